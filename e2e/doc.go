// Package e2e holds the end-to-end tests of sluice: each test builds config
// as a kong.yml, starts the real sluice binary as a process on loopback
// ports with httptest upstreams behind it, and checks what a Kong user would
// observe (status codes, bodies, headers, balancing, TLS, reloads).
//
// The binary is built once per run in TestMain. Set SLUICE_E2E_RACE=1 to
// build it with the race detector.
package e2e
