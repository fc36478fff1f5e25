package declarative

import (
	"crypto/sha1" //nolint:gosec // UUIDv5 is defined over SHA-1
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// entitiesNamespace is Kong's root namespace for deterministic ids
// (declarative_config.lua, uuid_generators._entities).
var entitiesNamespace = uuid.MustParse("fd02801f-0957-4a15-a55a-c8d9606f30b5")

// namespaces caches the per-entity namespace: UUIDv5(root, "<dao name>").
var namespaces = func() map[string]uuid.UUID {
	m := make(map[string]uuid.UUID, len(kinds))
	for _, k := range kinds {
		m[k.name] = uuid.NewSHA1(entitiesNamespace, []byte(k.name))
	}
	return m
}()

// DeterministicID returns the id Kong gives an entity of type entity (DAO
// name) whose id key is name: UUIDv5(UUIDv5(root, entity), name).
func DeterministicID(entity, name string) string {
	ns, ok := namespaces[entity]
	if !ok {
		ns = uuid.NewSHA1(entitiesNamespace, []byte(entity))
	}
	return uuidV5(ns, name).String()
}

// uuidV5 is uuid.NewSHA1(ns, []byte(name)) without its allocations (a hash
// state and a copy of name per call; a large config computes thousands).
func uuidV5(ns uuid.UUID, name string) uuid.UUID {
	var buf [16 + 240]byte
	b := append(append(buf[:0], ns[:]...), name...)
	sum := sha1.Sum(b)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// workspaceWildcard is what Kong puts for the workspace of an item that
// names none (ws_id_for).
const workspaceWildcard = "*"

// idKey returns the name Kong hashes into an entity's deterministic id, or
// "" when Kong would give the entity a random id. raw is the entity as
// written (references still as written), parentID and childKey are set for
// an entity nested under a parent.
func idKey(k *kind, raw map[string]any, parentID, childKey string) string {
	if k.cacheKey != nil {
		// Kong 3.x prefers the cache key: "<entity>:<ws>:<v1>:<v2>..."
		parts := []string{k.name, workspaceWildcard}
		for _, f := range k.cacheKey {
			if contains(k.autoFields, f) {
				return ""
			}
			v, set := raw[f]
			switch t := v.(type) {
			case string:
				parts = append(parts, t)
			case nil:
				switch {
				case f == childKey && parentID != "":
					parts = append(parts, parentID)
				case contains(k.required, f):
					return ""
				default:
					_ = set
					parts = append(parts, "")
				}
			default:
				// Kong skips values that are not strings (e.g. {id: ...})
			}
		}
		return strings.Join(parts, ":")
	}
	if k.endpointKey != "" && k.uniqueKey {
		if s, ok := raw[k.endpointKey].(string); ok {
			return s
		}
	}
	return ""
}

// fallbackKey names an entity for which Kong would draw a random id
// (certificates, CA certificates, key-auth and JWT credentials without a
// key...). sluice derives a stable id from the entity's content and parent
// instead, so reloading the same file keeps ids (and the snapshot's reuse).
func fallbackKey(k *kind, rec map[string]any, parentID string) string {
	b, _ := json.Marshal(rec) // map keys are sorted: canonical
	sum := sha256.Sum256(b)
	return "sluice:" + k.name + ":" + parentID + ":" + hex.EncodeToString(sum[:16])
}
