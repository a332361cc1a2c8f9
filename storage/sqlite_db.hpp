// Thin RAII layer over the SQLite C API: a connection with a per-connection cache of prepared
// statements, statement binding/stepping helpers, and transaction/savepoint guards.
// Every failure throws SqliteError. Nothing here is thread-safe: one thread per connection.
#pragma once

#include "base/string_map.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace bot::storage {

// The library's message plus the first words of the failing SQL: enough to tell which
// statement failed without ever echoing user data (values are bound, never spliced in).
class SqliteError : public std::runtime_error {
public:
    SqliteError(int code, const std::string& message, std::string_view sql = {});
    int code() const noexcept { return code_; }

private:
    int code_;
};

// Bytes bound as a BLOB (a string binds as TEXT).
struct Blob {
    std::span<const unsigned char> bytes;
};

// One prepared statement; finalized on destruction.
class Statement {
public:
    // persistent: the statement is kept for the connection's lifetime (SQLITE_PREPARE_PERSISTENT).
    Statement(sqlite3* db, std::string_view sql, bool persistent);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Parameters are 1-based, as in SQLite. Text is not copied (SQLITE_STATIC): it must stay
    // alive until the statement is reset, which a StatementLease does when it ends. Copying
    // cost the writer an allocation and a copy of every text it stored.
    void bind(int index, std::int64_t value);
    void bind(int index, int value) { bind(index, std::int64_t{value}); }
    void bind(int index, bool value) { bind(index, std::int64_t{value ? 1 : 0}); }
    void bind(int index, std::string_view value);
    void bind(int index, const std::string& value) { bind(index, std::string_view(value)); }
    void bind(int index, const char* value) { bind(index, std::string_view(value)); }
    void bind(int index, std::nullptr_t);
    void bind(int index, Blob value);  // not copied either

    // Binds the arguments to parameters 1..N in order. A temporary string would be gone before
    // the statement steps, so none is accepted.
    template <class... Args>
    Statement& bind_all(Args&&... args) {
        static_assert(!(... || (std::is_rvalue_reference_v<Args&&> &&
                                std::is_same_v<std::remove_cvref_t<Args>, std::string>)),
                      "bind_all: a temporary string would dangle; bind a named one");
        int index = 0;
        (bind(++index, args), ...);
        return *this;
    }

    // Advances to the next row; false when the statement is done.
    bool step();
    // Executes a statement that is not expected to return rows.
    void run();

    std::int64_t column_int64(int column) const;
    int column_int(int column) const;
    double column_double(int column) const;
    bool column_bool(int column) const { return column_int64(column) != 0; }
    std::string column_text(int column) const;  // NULL reads as ""
    bool column_is_null(int column) const;

    // Back to the start with no bindings; ends any read snapshot the statement held.
    void reset() noexcept;
    std::string_view sql() const;

private:
    [[noreturn]] void fail(int code) const;

    sqlite3* db_;
    sqlite3_stmt* statement_ = nullptr;
};

// A cached statement lent out for one use. Resetting on scope exit keeps the connection from
// holding an open read snapshot (which would pin the WAL) and hands the next user a clean one.
class StatementLease {
public:
    explicit StatementLease(Statement& statement) : statement_(&statement) {}
    ~StatementLease() {
        if (statement_) statement_->reset();
    }
    StatementLease(StatementLease&& other) noexcept : statement_(other.statement_) {
        other.statement_ = nullptr;
    }
    StatementLease(const StatementLease&) = delete;
    StatementLease& operator=(const StatementLease&) = delete;
    StatementLease& operator=(StatementLease&&) = delete;

    Statement* operator->() const { return statement_; }
    Statement& operator*() const { return *statement_; }

private:
    Statement* statement_;
};

class Database {
public:
    enum class Mode { read_write_create, read_only };

    // Throws SqliteError when the file cannot be opened.
    Database(const std::string& path, Mode mode);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // Runs a script of one or more statements, uncached (migrations, pragmas).
    void exec(const std::string& sql);

    // The connection's cached statement for this SQL, prepared on first use. Do not hold two
    // leases of the same SQL at once: they would share one cursor.
    StatementLease prepare(std::string_view sql);

    // Runs a cached statement that returns no rows with the arguments bound to ?1..?N;
    // returns the number of rows it changed.
    template <class... Args>
    std::int64_t run(std::string_view sql, const Args&... args) {
        auto statement = prepare(sql);
        statement->bind_all(args...);
        statement->run();
        return changes();
    }

    void set_busy_timeout(int milliseconds);
    std::int64_t last_insert_rowid() const;
    std::int64_t changes() const;  // rows changed by the last statement (not by cascades)
    bool in_transaction() const;
    sqlite3* handle() const { return db_.get(); }

private:
    struct Close {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    // Declared before the cache so the statements are finalized before the connection closes.
    std::unique_ptr<sqlite3, Close> db_;
    StringMap<std::unique_ptr<Statement>> cache_;  // looked up by the SQL's string_view
};

// BEGIN ... COMMIT; rolls back on destruction unless committed.
class Transaction {
public:
    // immediate takes the write lock up front, so a writer never fails half-way on a lock
    // upgrade; deferred suits read snapshots.
    enum class Kind { deferred, immediate };

    Transaction(Database& db, Kind kind);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();

private:
    Database& db_;
    bool open_ = true;
};

// A nested unit of work inside a transaction: rolling it back undoes only its own changes.
class Savepoint {
public:
    explicit Savepoint(Database& db);
    ~Savepoint();  // rolls back if neither released nor rolled back; never throws
    Savepoint(const Savepoint&) = delete;
    Savepoint& operator=(const Savepoint&) = delete;

    void release();
    // Throws when even the rollback fails: the enclosing transaction is then unusable.
    void rollback();

private:
    Database& db_;
    bool open_ = true;
};

// The database holds strangers' conversations, so its files are for the owner only.
// Creates missing parent directories (0700) and the file itself (0600) before SQLite does, so
// no umask can widen them; an existing file is left as it is.
void create_private_file(const std::string& path);
// Sets the database file and its -wal/-shm side files, where present, to 0600. SQLite gives new
// side files the main file's mode; this also covers files left by an older run or copied in.
void restrict_to_owner(const std::string& path);

}  // namespace bot::storage
