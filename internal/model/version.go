package model

// KongVersion is the Kong release whose entities, defaults and behaviour
// sluice reproduces, and the version it advertises to Kong's clients
// (GET / on the Admin API, Server and Via headers).
const KongVersion = "3.9.1"
