// Package model defines Kong's entities, their schemas, defaults and
// validation with Kong's messages. It does no I/O.
//
// Entities are validated with a schema engine modelled on Kong's
// kong.db.schema: a Schema is a list of typed Fields (string, integer,
// number, boolean, array, set, map, record, foreign) carrying Kong's
// validators (Required, Default, OneOf, Between, LenMin, Match, Custom, ...)
// plus entity Checks (AtLeastOneOf, OnlyOneOf, Distinct, MutuallyRequired,
// MutuallyExclusive, MutuallyExclusiveSets, Conditional,
// ConditionalAtLeastOneOf, Custom). Lookup returns the core entity schemas
// by DAO name; plugins declare the schema of their config record as a
// literal built from the same types (see Schema).
//
// Schema.Process validates a generic decoded input and returns the
// normalised record (every field present, defaults filled, shorthands
// expanded) or a *SchemaError whose Fields tree and Error() text follow
// Kong's schema violation format. Decode turns a record into the typed
// entity (Service, Route, ...).
//
// Process generates nothing: ids, timestamps and credential keys are the
// caller's. Schema.Generated fills the auto-generated credential values
// (key-auth key, jwt key and secret) and HashBasicAuthPassword gives the
// stored form of a basic-auth password.
package model
