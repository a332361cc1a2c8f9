// Versioned schema migrations. The version lives in the file itself (PRAGMA user_version);
// each migration is one SQL script applied in its own transaction, so a crash mid-upgrade
// leaves the previous version intact.
#pragma once

namespace bot::storage {

class Database;

// The version this build's schema ends at.
int latest_schema_version();

// The version recorded in the file (0 for a fresh file).
int schema_version(Database& db);

// Applies every migration newer than the file's version. Throws when the file was written by a
// newer build (downgrades are not supported) or a migration fails.
void migrate(Database& db);

}  // namespace bot::storage
