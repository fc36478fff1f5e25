package declarative

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"reflect"
	"sync"
	"weak"

	"sluice/internal/model"
)

// The memo lets a parse skip the work of an entity unchanged since the
// previous parse. Most reloads (a controller re-posting the whole config)
// change a few entities of thousands; validating, transforming and
// decoding the others again only to find them equal to the previous ones
// cost most of the parse's CPU and garbage.
//
// After a successful parse, every entity's fingerprint is remembered with
// the configuration it produced. A later parse whose Options.Previous is
// that configuration takes an entity whose fingerprint is remembered
// straight from it, as reusePrevious would have after the full work. The
// fingerprint covers everything the entity's typed form depends on: its
// kind and id, its fields as written (without nested children), its
// parent and its resolved references, the format version and _transform.
// Entities whose form is not a function of those are left out: those with
// values generated at random (a key-auth credential without a key),
// certificates (build links their SNIs into them), and those with one
// timestamp written and the other not (the full parse gives the other the
// load time).
//
// Plugin entities also depend on Options.Plugins: the memo is used only
// by a parse with the same lookup function (by code pointer: two closures
// of one function over different plugin sets would look the same; the
// lookups sluice passes are the plugin registry's, one per process).

// fingerprint identifies an entity's input: two 64-bit hashes of it with
// independent seeds.
type fingerprint [2]uint64

var fpSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

type memo struct {
	cfg weak.Pointer[model.Config]
	// plugins identifies the Options.Plugins of the parse (pluginsID).
	plugins uintptr
	// pos locates a remembered entity: its index in its kind's list of
	// the configuration; uniq holds the values of the unique fields that
	// checkUniques reads (item.uniq), for the kinds that have any.
	pos  map[fingerprint]int32
	uniq map[fingerprint][]any
}

var lastMemo struct {
	sync.Mutex
	m *memo
}

// pluginsID identifies a plugin lookup function (0 for none).
func pluginsID(f model.PluginSchemaLookup) uintptr {
	if f == nil {
		return 0
	}
	return reflect.ValueOf(f).Pointer()
}

// memoFor returns the memo of prev made with the same plugin lookup, nil
// when there is none.
func memoFor(prev *model.Config, plugins model.PluginSchemaLookup) *memo {
	if prev == nil {
		return nil
	}
	id := pluginsID(plugins)
	lastMemo.Lock()
	defer lastMemo.Unlock()
	if m := lastMemo.m; m != nil && m.cfg.Value() == prev && m.plugins == id {
		return m
	}
	return nil
}

// remember replaces the memo by the entities of cfg, just built from items.
func (l *loader) remember(cfg *model.Config) {
	m := &memo{cfg: weak.Make(cfg), plugins: pluginsID(l.opts.Plugins), pos: make(map[fingerprint]int32, len(l.items)), uniq: map[fingerprint][]any{}}
	for _, it := range l.items {
		if it.memoable && it.pos >= 0 {
			m.pos[it.fp] = it.pos
			if checksUniques(it.k) {
				m.uniq[it.fp] = it.uniq
			}
		}
	}
	lastMemo.Lock()
	lastMemo.m = m
	lastMemo.Unlock()
}

// checksUniques reports whether checkUniques reads k's unique values.
func checksUniques(k *kind) bool {
	for _, f := range k.uniques {
		if f != k.endpointKey || !k.uniqueKey {
			return true
		}
	}
	return false
}

// fromMemo takes it from the previous configuration when its fingerprint
// is remembered, and reports whether it did.
func (l *loader) fromMemo(it *item) bool {
	if l.memo == nil || !it.memoable {
		return false
	}
	pos, ok := l.memo.pos[it.fp]
	if !ok {
		return false
	}
	val, id := entityAt(l.opts.Previous, it.k.name, int(pos))
	if val == nil || id != it.id {
		return false
	}
	it.val, it.uniq = val, l.memo.uniq[it.fp]
	return true
}

// fingerprintItem sets it.fp and it.memoable. It runs after references
// are resolved.
func (l *loader) fingerprintItem(it *item) {
	if it.k.name == "certificates" || it.partStamped || it.raw == nil && !it.summarized {
		return
	}
	if it.summarized && it.genMissing || !it.summarized && generatedMissing(it.k, it.raw) {
		return // a value drawn at random
	}
	for i, seed := range fpSeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(it.k.name)
		h.WriteByte(0)
		h.WriteString(it.id)
		h.WriteByte(0)
		if it.generated {
			h.WriteByte(1)
		}
		h.WriteString(l.version)
		h.WriteByte(0)
		if l.transform {
			h.WriteByte(1)
		}
		if it.parent != nil {
			h.WriteString(it.parentField)
			h.WriteByte(0)
			h.WriteString(it.parent.id)
			h.WriteByte(0)
		}
		for _, r := range it.refs {
			h.WriteString(r.field)
			h.WriteByte(0)
			h.WriteString(r.id)
			h.WriteByte(0)
		}
		fields := it.fp[i] // the fields hash, from summarize
		if !it.summarized {
			fields = fieldsHash(it.k, it.raw, seed)
		}
		writeUint64(&h, fields)
		it.fp[i] = h.Sum64()
	}
	it.memoable = true
}

// fieldsHash hashes an entity's fields as written, without nested
// children and comments, independently of their order.
func fieldsHash(k *kind, raw map[string]any, seed maphash.Seed) uint64 {
	var sum uint64
	for key, val := range raw {
		if key == "_comment" || key == "_ignore" {
			continue
		}
		if _, _, ok := childRel4(k, key); ok {
			continue
		}
		sum += mix(hashString(seed, key), hashValue(seed, val, 0))
	}
	return mix(sum, uint64(len(raw)))
}

// generatedMissing reports whether raw lacks a field k's schema generates.
func generatedMissing(k *kind, raw map[string]any) bool {
	for _, f := range generatedFields(k.name) {
		if raw[f] == nil {
			return true
		}
	}
	return false
}

// generatedFields lists the fields a kind's schema fills with generated
// values when they are missing (found by running Generate on an empty
// record), cached per kind.
func generatedFields(kind string) []string {
	generatedOnce.Do(func() {
		generated = map[string][]string{}
		for _, k := range kinds {
			s, ok := model.Lookup(k.name)
			if !ok || s.Generate == nil {
				continue
			}
			probe := map[string]any{}
			s.Generate(probe)
			for f := range probe {
				generated[k.name] = append(generated[k.name], f)
			}
		}
	})
	return generated[kind]
}

var (
	generatedOnce sync.Once
	generated     map[string][]string
)

func mix(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ (b + 0x632be59bd9b4e019 + (a << 6) + (a >> 2))
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	return x
}

func hashString(seed maphash.Seed, s string) uint64 { return maphash.String(seed, s) }

func writeUint64(h *maphash.Hash, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

// hashValue hashes a generic value (what decodeInput produces): its type and
// content, maps independently of their order.
func hashValue(seed maphash.Seed, v any, depth int) uint64 {
	if depth > maxDepth {
		return 0
	}
	switch t := v.(type) {
	case nil:
		return 0x6e756c6c
	case string:
		return mix(1, hashString(seed, t))
	case bool:
		if t {
			return mix(2, 1)
		}
		return mix(2, 0)
	case int:
		return mix(3, uint64(t))
	case float64:
		return mix(4, math.Float64bits(t))
	case []any:
		acc := uint64(5)
		for _, e := range t {
			acc = mix(acc, hashValue(seed, e, depth+1))
		}
		return mix(acc, uint64(len(t)))
	case map[string]any:
		var sum uint64
		for k, e := range t {
			sum += mix(hashString(seed, k), hashValue(seed, e, depth+1))
		}
		return mix(mix(6, sum), uint64(len(t)))
	}
	// a type decodeInput does not produce: never equal to anything
	return mix(7, uint64(math.MaxUint64))
}

// entityAt returns the entity at pos in cfg's list of kind and its id.
func entityAt(cfg *model.Config, kind string, pos int) (any, string) {
	if cfg == nil || pos < 0 {
		return nil, ""
	}
	switch kind {
	case "services":
		return at(cfg.Services, pos, func(e *model.Service) string { return e.ID })
	case "routes":
		return at(cfg.Routes, pos, func(e *model.Route) string { return e.ID })
	case "consumers":
		return at(cfg.Consumers, pos, func(e *model.Consumer) string { return e.ID })
	case "plugins":
		return at(cfg.Plugins, pos, func(e *model.Plugin) string { return e.ID })
	case "upstreams":
		return at(cfg.Upstreams, pos, func(e *model.Upstream) string { return e.ID })
	case "targets":
		return at(cfg.Targets, pos, func(e *model.Target) string { return e.ID })
	case "snis":
		return at(cfg.SNIs, pos, func(e *model.SNI) string { return e.ID })
	case "ca_certificates":
		return at(cfg.CACertificates, pos, func(e *model.CACertificate) string { return e.ID })
	case "keyauth_credentials":
		return at(cfg.KeyAuthCredentials, pos, func(e *model.KeyAuthCredential) string { return e.ID })
	case "basicauth_credentials":
		return at(cfg.BasicAuthCredentials, pos, func(e *model.BasicAuthCredential) string { return e.ID })
	case "hmacauth_credentials":
		return at(cfg.HMACAuthCredentials, pos, func(e *model.HMACAuthCredential) string { return e.ID })
	case "jwt_secrets":
		return at(cfg.JWTSecrets, pos, func(e *model.JWTSecret) string { return e.ID })
	case "acls":
		return at(cfg.ACLs, pos, func(e *model.ACL) string { return e.ID })
	case "oauth2_credentials":
		return at(cfg.OAuth2Credentials, pos, func(e *model.OAuth2Credential) string { return e.ID })
	case "vaults":
		return at(cfg.Vaults, pos, func(e *model.Vault) string { return e.ID })
	case "key_sets":
		return at(cfg.KeySets, pos, func(e *model.KeySet) string { return e.ID })
	case "keys":
		return at(cfg.Keys, pos, func(e *model.Key) string { return e.ID })
	}
	return nil, ""
}

func at[T any](list []*T, pos int, id func(*T) string) (any, string) {
	if pos >= len(list) || list[pos] == nil {
		return nil, ""
	}
	return list[pos], id(list[pos])
}
