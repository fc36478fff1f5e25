package ratelimiting

import (
	"fmt"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// periods in Kong's order, shortest first.
var periodNames = plugin.PeriodNames

// Schema is rate-limiting's config record (Kong 3.9 schema.lua).
var Schema = func() *model.Schema {
	s := &model.Schema{
		Name:      Name,
		Protocols: []string{"grpc", "grpcs", "http", "https"},
	}
	for _, p := range periodNames {
		s.Fields = append(s.Fields, &model.Field{Name: p, Type: model.TypeNumber, Gt: model.Float(0)})
	}
	s.Fields = append(s.Fields,
		&model.Field{Name: "limit_by", Type: model.TypeString, Default: "consumer",
			OneOf: []any{"consumer", "credential", "ip", "service", "header", "path", "consumer-group"}},
		model.HeaderNameField("header_name"),
		model.PathField("path"),
		&model.Field{Name: "policy", Type: model.TypeString, Default: "local", OneOf: []any{"local", "cluster", "redis"}},
		&model.Field{Name: "fault_tolerant", Type: model.TypeBoolean, Required: true, Default: true},
		plugin.RedisField(),
		&model.Field{Name: "hide_client_headers", Type: model.TypeBoolean, Required: true, Default: false},
		&model.Field{Name: "error_code", Type: model.TypeNumber, Default: 429, Gt: model.Float(0)},
		&model.Field{Name: "error_message", Type: model.TypeString, Default: "API rate limit exceeded"},
		&model.Field{Name: "sync_rate", Type: model.TypeNumber, Required: true, Default: -1},
	)
	s.Shorthands = plugin.RedisShorthands(Name)
	s.Checks = []*model.Check{{Custom: &model.CustomCheck{
		Fn: check,
	}}}
	return s
}()

// check is Kong's at_least_one_of on the periods, the periods' order, and
// the conditional requirements of limit_by and policy.
func check(rec map[string]any) ([]string, map[string]any) {
	var ent []string
	fields := map[string]any{}
	any1 := false
	var prevName string
	var prev float64
	for _, p := range periodNames {
		v, ok := model.Number(rec[p])
		if !ok {
			continue
		}
		any1 = true
		if prevName != "" && v < prev {
			ent = append(ent, fmt.Sprintf("The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)", p, v, prevName, prev))
		}
		prevName, prev = p, v
	}
	// The same custom validator (validate_periods_order in Kong 3.x
	// schema.lua) then checks sync_rate, which belongs to the redis policy.
	if sr, ok := model.Number(rec["sync_rate"]); ok && sr != -1 && len(ent) == 0 {
		if rec["policy"] != "redis" {
			ent = append(ent, "sync_rate can only be used with the redis policy")
		} else if sr < 0.02 {
			ent = append(ent, "sync_rate must be greater than 0.02, or -1 to disable")
		}
	}
	if !any1 {
		ent = append(ent, "at least one of these fields must be non-empty: 'config.second', 'config.minute', 'config.hour', 'config.day', 'config.month', 'config.year'")
	}
	switch rec["limit_by"] {
	case "header":
		if rec["header_name"] == nil {
			fields["header_name"] = "required field missing"
		}
	case "path":
		if rec["path"] == nil {
			fields["path"] = "required field missing"
		}
	}
	plugin.CheckCounterPolicy(rec, fields)
	if len(fields) == 0 {
		fields = nil
	}
	return ent, fields
}
