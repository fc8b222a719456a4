// Package api embeds the REST contract, api/openapi.yaml, so the server
// can serve it and tests can hold the router to it.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3 document describing every /api route and the
// Twilio webhooks.
//
//go:embed openapi.yaml
var OpenAPI []byte
