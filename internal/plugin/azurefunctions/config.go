package azurefunctions

import "sluice/internal/model"

// Schema is azure-functions' config record (Kong 3.x schema.lua).
var Schema = &model.Schema{
	Name:      Name,
	Protocols: []string{"grpc", "grpcs", "http", "https"},
	Fields: []*model.Field{
		{Name: "timeout", Type: model.TypeNumber, Default: 600000},
		{Name: "keepalive", Type: model.TypeNumber, Default: 60000},
		{Name: "https", Type: model.TypeBoolean, Default: true},
		{Name: "https_verify", Type: model.TypeBoolean, Default: false},
		{Name: "apikey", Type: model.TypeString, Encrypted: true, Referenceable: true},
		{Name: "clientid", Type: model.TypeString, Encrypted: true, Referenceable: true},
		{Name: "appname", Type: model.TypeString, Required: true},
		{Name: "hostdomain", Type: model.TypeString, Required: true, Default: "azurewebsites.net"},
		{Name: "routeprefix", Type: model.TypeString, Default: "api"},
		{Name: "functionname", Type: model.TypeString, Required: true},
	},
}

// Config is the decoded config record.
type Config struct {
	Timeout      float64 `json:"timeout"`   // ms
	Keepalive    float64 `json:"keepalive"` // ms
	HTTPS        bool    `json:"https"`
	HTTPSVerify  bool    `json:"https_verify"`
	APIKey       *string `json:"apikey"`
	ClientID     *string `json:"clientid"`
	AppName      string  `json:"appname"`
	HostDomain   string  `json:"hostdomain"`
	RoutePrefix  string  `json:"routeprefix"`
	FunctionName string  `json:"functionname"`
}
