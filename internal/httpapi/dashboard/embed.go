// Package dashboard embeds the operator dashboard: one HTML page, its
// script and its stylesheet, served as they are (no build step, no
// framework, no inline script, so a strict Content-Security-Policy holds).
package dashboard

import "embed"

// Files holds index.html, app.js, charts.js, style.css and favicon.svg.
//
//go:embed index.html app.js charts.js style.css favicon.svg
var Files embed.FS
