// Package model defines Kong's entities, their schemas, defaults and
// validation with Kong's messages. It does no I/O.
package model
