package model

// ResolveReferences returns cfg with every vault reference held by a field
// the schema marks referenceable (also inside records, arrays and map
// values) replaced by what resolve returns for it. cfg itself is not
// modified: the maps and slices on the way to a replaced value are copied,
// the rest is shared. changed is false (and out is cfg) when cfg holds no
// reference; err is the first error of resolve.
func ResolveReferences(fields []*Field, cfg map[string]any, resolve func(ref string) (string, error)) (out map[string]any, changed bool, err error) {
	out, changed, err = resolveRecord(fields, cfg, resolve)
	if err != nil || !changed {
		return cfg, false, err
	}
	return out, true, nil
}

func resolveRecord(fields []*Field, rec map[string]any, resolve func(string) (string, error)) (map[string]any, bool, error) {
	var out map[string]any
	for _, f := range fields {
		v, ok := rec[f.Name]
		if !ok || v == nil {
			continue
		}
		nv, changed, err := resolveValue(f, v, resolve)
		if err != nil {
			return nil, false, err
		}
		if !changed {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(rec))
			for k, x := range rec {
				out[k] = x
			}
		}
		out[f.Name] = nv
	}
	return out, out != nil, nil
}

func resolveValue(f *Field, v any, resolve func(string) (string, error)) (any, bool, error) {
	switch x := v.(type) {
	case string:
		if !f.Referenceable || !IsVaultReference(x) {
			return v, false, nil
		}
		s, err := resolve(x)
		if err != nil {
			return nil, false, err
		}
		return s, true, nil
	case map[string]any:
		switch {
		case f.Type == TypeRecord:
			return resolveRecord(f.Fields, x, resolve)
		case f.Type == TypeMap && f.Values != nil:
			var out map[string]any
			for k, e := range x {
				ne, changed, err := resolveValue(f.Values, e, resolve)
				if err != nil {
					return nil, false, err
				}
				if changed {
					if out == nil {
						out = make(map[string]any, len(x))
						for k2, e2 := range x {
							out[k2] = e2
						}
					}
					out[k] = ne
				}
			}
			return out, out != nil, nil
		}
	case []any:
		if f.Elements == nil {
			return v, false, nil
		}
		var out []any
		for i, e := range x {
			ne, changed, err := resolveValue(f.Elements, e, resolve)
			if err != nil {
				return nil, false, err
			}
			if changed {
				if out == nil {
					out = append([]any(nil), x...)
				}
				out[i] = ne
			}
		}
		return out, out != nil, nil
	}
	return v, false, nil
}
