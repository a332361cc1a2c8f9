// What a database file still holds of someone: every table in sqlite_master (virtual tables,
// FTS5 shadow tables and whatever later migrations add, enumerated, never listed by hand),
// every column, searched for each needle as bytes (CAST AS BLOB, so text, blobs and numbers
// alike). For the "/forget leaves nothing" tests.
#pragma once

#include "storage/sqlite_db.hpp"

#include <map>
#include <string>
#include <vector>

namespace bot::testing {

struct Leftover {
    std::string table;
    std::string column;
    std::string needle;
    std::int64_t rows = 0;
    std::string describe() const {
        return table + "." + column + " holds \"" + needle + "\" in " + std::to_string(rows) +
               " rows";
    }
};

inline std::string quoted_name(const std::string& name) {
    std::string out = "\"";
    for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// except: table -> an SQL condition a row must meet to be searched (rows known to stay).
inline std::vector<Leftover> find_leftovers(const std::string& path,
                                            const std::vector<std::string>& needles,
                                            const std::map<std::string, std::string>& except = {}) {
    storage::Database db(path, storage::Database::Mode::read_only);
    std::vector<std::string> tables;
    {
        auto query =
            db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
        while (query->step()) tables.push_back(query->column_text(0));
    }
    std::vector<Leftover> found;
    for (const auto& table : tables) {
        std::vector<std::string> columns;
        {
            auto info = db.prepare("SELECT name FROM pragma_table_info(?)");
            info->bind_all(table);
            while (info->step()) columns.push_back(info->column_text(0));
        }
        const auto condition = except.find(table);
        for (const auto& column : columns) {
            const std::string sql =
                "SELECT count(*) FROM " + quoted_name(table) + " WHERE instr(CAST(" +
                quoted_name(column) + " AS BLOB), CAST(?1 AS BLOB)) > 0" +
                (condition != except.end() ? " AND (" + condition->second + ")" : std::string());
            storage::Statement statement(db.handle(), sql, false);
            for (const auto& needle : needles) {
                statement.bind_all(needle);
                statement.step();
                if (auto rows = statement.column_int64(0); rows > 0)
                    found.push_back({table, column, needle, rows});
                statement.reset();
            }
        }
    }
    return found;
}

// How many tables the file has (to show the search covered the shadow tables too).
inline std::vector<std::string> table_names(const std::string& path) {
    storage::Database db(path, storage::Database::Mode::read_only);
    std::vector<std::string> tables;
    auto query = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (query->step()) tables.push_back(query->column_text(0));
    return tables;
}

}  // namespace bot::testing
