// Package layering holds the test that enforces the import rules of
// ARCHITECTURE.md: which packages may depend on which.
package layering
