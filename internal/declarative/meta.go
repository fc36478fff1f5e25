package declarative

// fkField is a foreign key of an entity: the field name and the entity type
// it references.
type fkField struct {
	name string
	ref  string
}

// kind describes one entity type as far as the declarative loader needs it:
// how it is referenced, how its deterministic id is built, which of its
// fields must be unique across the file.
type kind struct {
	name        string    // DAO name, e.g. "services"
	endpointKey string    // "" when the entity is referenced by id only
	uniqueKey   bool      // the endpoint key is unique (usable as a reference)
	cacheKey    []string  // Kong's cache_key fields, in order
	autoFields  []string  // fields Kong generates when absent ("auto")
	required    []string  // required fields that appear in the cache key
	fks         []fkField // foreign keys, in schema order
	uniques     []string  // unique fields other than the id
}

// kinds lists the entity types sluice understands, in Kong's load order
// (parents before children).
var kinds = []*kind{
	{name: "certificates"},
	{name: "ca_certificates", uniques: []string{"cert_digest"}},
	{name: "snis", endpointKey: "name", uniqueKey: true, uniques: []string{"name"},
		fks: []fkField{{"certificate", "certificates"}}},
	{name: "services", endpointKey: "name", uniqueKey: true, uniques: []string{"name"},
		fks: []fkField{{"client_certificate", "certificates"}}},
	{name: "routes", endpointKey: "name", uniqueKey: true, uniques: []string{"name"},
		fks: []fkField{{"service", "services"}}},
	{name: "consumers", endpointKey: "username", uniqueKey: true, uniques: []string{"username", "custom_id"}},
	{name: "upstreams", endpointKey: "name", uniqueKey: true, uniques: []string{"name"},
		fks: []fkField{{"client_certificate", "certificates"}}},
	{name: "targets", endpointKey: "target", cacheKey: []string{"upstream", "target"},
		required: []string{"upstream", "target"}, fks: []fkField{{"upstream", "upstreams"}}},
	{name: "plugins", endpointKey: "instance_name", uniqueKey: true, uniques: []string{"instance_name"},
		cacheKey: []string{"name", "route", "service", "consumer", "consumer_group"}, required: []string{"name"},
		fks: []fkField{{"route", "routes"}, {"service", "services"}, {"consumer", "consumers"}}},
	{name: "keyauth_credentials", endpointKey: "key", uniqueKey: true, uniques: []string{"key"},
		cacheKey: []string{"key"}, autoFields: []string{"key"}, fks: []fkField{{"consumer", "consumers"}}},
	{name: "basicauth_credentials", endpointKey: "username", uniqueKey: true, uniques: []string{"username"},
		cacheKey: []string{"username"}, required: []string{"username"}, fks: []fkField{{"consumer", "consumers"}}},
	{name: "hmacauth_credentials", endpointKey: "username", uniqueKey: true, uniques: []string{"username"},
		cacheKey: []string{"username"}, required: []string{"username"}, fks: []fkField{{"consumer", "consumers"}}},
	{name: "jwt_secrets", endpointKey: "key", uniqueKey: true, uniques: []string{"key"},
		cacheKey: []string{"key"}, autoFields: []string{"key"}, fks: []fkField{{"consumer", "consumers"}}},
	{name: "acls", endpointKey: "group", cacheKey: []string{"consumer", "group"},
		required: []string{"consumer", "group"}, fks: []fkField{{"consumer", "consumers"}}},
	{name: "oauth2_credentials", endpointKey: "client_id", uniqueKey: true, uniques: []string{"client_id"},
		cacheKey: []string{"client_id"}, required: []string{"name"}, autoFields: []string{"client_id", "client_secret"},
		fks: []fkField{{"consumer", "consumers"}}},
	{name: "vaults", endpointKey: "prefix", uniqueKey: true, uniques: []string{"prefix"},
		cacheKey: []string{"prefix"}, required: []string{"prefix"}},
	{name: "key_sets", endpointKey: "name", uniqueKey: true, uniques: []string{"name"}},
	{name: "keys", endpointKey: "name", uniqueKey: true, uniques: []string{"name"},
		cacheKey: []string{"kid", "set"}, required: []string{"kid"}, fks: []fkField{{"set", "key_sets"}}},
}

var kindByName = func() map[string]*kind {
	m := make(map[string]*kind, len(kinds))
	for _, k := range kinds {
		m[k.name] = k
	}
	return m
}()

// childKinds maps a parent type to the child types that may be nested under
// it, each with the child's foreign-key field pointing at the parent.
var childKinds = func() map[string][]childRel {
	m := make(map[string][]childRel)
	for _, k := range kinds {
		for _, fk := range k.fks {
			m[fk.ref] = append(m[fk.ref], childRel{kind: k, field: fk.name})
		}
	}
	return m
}()

type childRel struct {
	kind  *kind
	field string // the child's foreign key naming the parent
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// singular is Kong's naming of an entity type in flattened errors: the DAO
// name without a trailing "s".
func singular(name string) string {
	if len(name) > 0 && name[len(name)-1] == 's' {
		return name[:len(name)-1]
	}
	return name
}
