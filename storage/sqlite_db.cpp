#include "storage/sqlite_db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <filesystem>
#include <system_error>

namespace bot::storage {
namespace {

// The first few words of a statement, whitespace collapsed: "INSERT INTO inbox (adapter_id, ...".
std::string sql_head(std::string_view sql) {
    constexpr int max_words = 5;
    std::string head;
    int words = 0;
    bool in_space = true;
    for (char c : sql) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            in_space = true;
            continue;
        }
        if (in_space) {
            if (words == max_words) return head + " ...";
            if (!head.empty()) head += ' ';
            ++words;
            in_space = false;
        }
        head += c;
    }
    return head;
}

std::string describe(int code, const std::string& message, std::string_view sql) {
    std::string text = message.empty() ? sqlite3_errstr(code) : message;
    if (!sql.empty()) text += " (in: " + sql_head(sql) + ")";
    return text;
}

std::string connection_message(sqlite3* db, int code) {
    return db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
}

}  // namespace

SqliteError::SqliteError(int code, const std::string& message, std::string_view sql)
    : std::runtime_error(describe(code, message, sql)), code_(code) {}

// --- Statement ---

Statement::Statement(sqlite3* db, std::string_view sql, bool persistent) : db_(db) {
    const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    const char* tail = nullptr;
    const int rc =
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &statement_, &tail);
    if (rc != SQLITE_OK) throw SqliteError(rc, connection_message(db, rc), sql);
    if (!statement_) throw SqliteError(SQLITE_MISUSE, "empty statement", sql);
}

Statement::~Statement() {
    sqlite3_finalize(statement_);
}

void Statement::fail(int code) const {
    throw SqliteError(code, connection_message(db_, code), sql());
}

void Statement::bind(int index, std::int64_t value) {
    if (int rc = sqlite3_bind_int64(statement_, index, value); rc != SQLITE_OK) fail(rc);
}

void Statement::bind(int index, Blob value) {
    // A non-null pointer even for no bytes so the value binds as an empty BLOB, not NULL.
    static constexpr unsigned char kNone = 0;
    const void* data = value.bytes.empty() ? &kNone : value.bytes.data();
    if (int rc = sqlite3_bind_blob64(statement_, index, data, value.bytes.size(), SQLITE_STATIC);
        rc != SQLITE_OK)
        fail(rc);
}

void Statement::bind(int index, std::string_view value) {
    // A non-null pointer even for "" so the value binds as empty text, not NULL.
    const char* data = value.data() ? value.data() : "";
    if (int rc =
            sqlite3_bind_text64(statement_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8);
        rc != SQLITE_OK)
        fail(rc);
}

void Statement::bind(int index, std::nullptr_t) {
    if (int rc = sqlite3_bind_null(statement_, index); rc != SQLITE_OK) fail(rc);
}

bool Statement::step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc);
}

void Statement::run() {
    while (step()) {
    }
}

std::int64_t Statement::column_int64(int column) const {
    return sqlite3_column_int64(statement_, column);
}

int Statement::column_int(int column) const {
    return sqlite3_column_int(statement_, column);
}

double Statement::column_double(int column) const {
    return sqlite3_column_double(statement_, column);
}

std::string Statement::column_text(int column) const {
    // Ask for the text before its size: the conversion may change the size.
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    if (!text) return {};
    return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

bool Statement::column_is_null(int column) const {
    return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

void Statement::reset() noexcept {
    // The step error (if any) was already thrown; reset's copy of it is not news.
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
}

std::string_view Statement::sql() const {
    const char* text = sqlite3_sql(statement_);
    return text ? std::string_view(text) : std::string_view();
}

// --- Database ---

Database::Database(const std::string& path, Mode mode) {
    int flags = SQLITE_OPEN_NOMUTEX;  // one thread per connection: skip SQLite's own locking
    flags |=
        mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
#ifdef SQLITE_OPEN_EXRESCODE
    flags |= SQLITE_OPEN_EXRESCODE;
#endif
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    db_.reset(raw);  // even a failed open returns a handle that must be closed
    if (rc != SQLITE_OK) throw SqliteError(rc, connection_message(raw, rc));
    sqlite3_extended_result_codes(raw, 1);
}

Database::~Database() = default;

void Database::exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return;
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw SqliteError(rc, text, sql);
}

StatementLease Database::prepare(std::string_view sql) {
    auto found = cache_.find(sql);
    if (found == cache_.end()) {
        auto statement = std::make_unique<Statement>(db_.get(), sql, true);
        found = cache_.emplace(std::string(sql), std::move(statement)).first;
    }
    return StatementLease(*found->second);
}

void Database::set_busy_timeout(int milliseconds) {
    if (int rc = sqlite3_busy_timeout(db_.get(), milliseconds); rc != SQLITE_OK)
        throw SqliteError(rc, connection_message(db_.get(), rc), "busy_timeout");
}

std::int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_.get());
}

std::int64_t Database::changes() const {
    return sqlite3_changes64(db_.get());
}

bool Database::in_transaction() const {
    return sqlite3_get_autocommit(db_.get()) == 0;
}

// --- Transaction ---

Transaction::Transaction(Database& db, Kind kind) : db_(db) {
    db_.prepare(kind == Kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")->run();
}

Transaction::~Transaction() {
    // SQLite may already have rolled back by itself (e.g. on SQLITE_FULL); ROLLBACK would then
    // fail.
    if (!open_ || !db_.in_transaction()) return;
    try {
        db_.prepare("ROLLBACK")->run();
    } catch (...) {
        // Nothing better to do in a destructor; the connection stays usable for the next BEGIN.
    }
}

void Transaction::commit() {
    db_.prepare("COMMIT")->run();
    open_ = false;
}

// --- Savepoint ---

// One fixed name is enough: ROLLBACK TO / RELEASE act on the innermost savepoint of that name.
Savepoint::Savepoint(Database& db) : db_(db) {
    db_.prepare("SAVEPOINT operation")->run();
}

Savepoint::~Savepoint() {
    if (!open_) return;
    try {
        rollback();
    } catch (...) {
        // The enclosing Transaction notices the broken state when it commits or rolls back.
    }
}

void Savepoint::release() {
    db_.prepare("RELEASE operation")->run();
    open_ = false;
}

void Savepoint::rollback() {
    open_ = false;
    db_.prepare("ROLLBACK TO operation")->run();
    db_.prepare("RELEASE operation")->run();
}

// --- File permissions ---

void create_private_file(const std::string& path) {
    namespace fs = std::filesystem;
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::exists(parent)) {
        fs::create_directories(parent);
        fs::permissions(parent, fs::perms::owner_all, fs::perm_options::replace);
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return;
        throw std::system_error(errno, std::generic_category(), "create " + path);
    }
    const int rc = ::fchmod(fd, 0600);  // a umask like 0277 strips bits even from 0600
    const int saved_errno = errno;
    ::close(fd);
    if (rc != 0) throw std::system_error(saved_errno, std::generic_category(), "chmod " + path);
}

void restrict_to_owner(const std::string& path) {
    namespace fs = std::filesystem;
    const auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
    fs::permissions(path, owner_rw, fs::perm_options::replace);
    for (const char* suffix : {"-wal", "-shm"}) {
        std::error_code missing_is_fine;
        fs::permissions(path + suffix, owner_rw, fs::perm_options::replace, missing_is_fine);
    }
}

}  // namespace bot::storage
