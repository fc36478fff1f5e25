// Package declarative reads and writes Kong's declarative configuration
// (kong.yml, YAML or JSON) and turns it into a validated *model.Config.
//
// Parse follows Kong 3.x (kong/db/schema/others/declarative_config.lua):
// nested and flat entities, references by endpoint key or id, deterministic
// UUIDv5 ids, uniqueness checks across the whole file, and Kong's code-14
// error body ("invalid declarative configuration") with the optional
// flattened_errors list. A file with any error is rejected whole.
//
// Marshal writes a *model.Config back as a flat _format_version "3.0" file;
// Hash computes the configuration hash reported as configuration_hash.
package declarative
