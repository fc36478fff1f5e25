package responseratelimiting

import (
	"fmt"

	"sluice/internal/model"
	"sluice/internal/plugin"
)

// periodNames in Kong's order, shortest first.
var periodNames = [...]string{"second", "minute", "hour", "day", "month", "year"}

// limitRecord is one named limit: a count per period.
func limitRecord() *model.Field {
	f := &model.Field{Type: model.TypeRecord, Required: true, Custom: periodsInOrder,
		Checks: []*model.Check{{AtLeastOneOf: periodNames[:]}}}
	for _, p := range periodNames {
		f.Fields = append(f.Fields, &model.Field{Name: p, Type: model.TypeNumber, Gt: model.Float(0)})
	}
	return f
}

// periodsInOrder is Kong's validate_periods_order: a longer period may not
// allow fewer than a shorter one.
func periodsInOrder(v any) string {
	rec, _ := v.(map[string]any)
	for i, lower := range periodNames {
		v1, ok := model.Number(rec[lower])
		if !ok {
			continue
		}
		for _, upper := range periodNames[i+1:] {
			if v2, ok := model.Number(rec[upper]); ok && v2 < v1 {
				return fmt.Sprintf("the limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)", upper, v2, lower, v1)
			}
		}
	}
	return ""
}

// Schema is response-ratelimiting's config record (Kong 3.9 schema.lua).
var Schema = func() *model.Schema {
	s := &model.Schema{
		Name:      Name,
		Protocols: []string{"grpc", "grpcs", "http", "https"},
		Fields: []*model.Field{
			{Name: "header_name", Type: model.TypeString, Default: "x-kong-limit"},
			{Name: "limit_by", Type: model.TypeString, Default: "consumer", OneOf: []any{"consumer", "credential", "ip"}},
			{Name: "policy", Type: model.TypeString, Default: "local", OneOf: []any{"local", "cluster", "redis"}},
			{Name: "fault_tolerant", Type: model.TypeBoolean, Required: true, Default: true},
			plugin.RedisField(),
			{Name: "block_on_first_violation", Type: model.TypeBoolean, Required: true, Default: false},
			{Name: "hide_client_headers", Type: model.TypeBoolean, Required: true, Default: false},
			{Name: "limits", Type: model.TypeMap, Required: true, LenMin: 1,
				Keys: &model.Field{Type: model.TypeString}, Values: limitRecord()},
		},
	}
	s.Shorthands = plugin.RedisShorthands(Name)
	s.Checks = []*model.Check{{Custom: &model.CustomCheck{Fn: check}}}
	return s
}()

// check: "cluster" is refused without a database, and the redis policy
// needs a host (Kong's conditional entity checks).
func check(rec map[string]any) ([]string, map[string]any) {
	fields := map[string]any{}
	plugin.CheckCounterPolicy(rec, fields)
	if len(fields) == 0 {
		return nil, nil
	}
	return nil, fields
}
