// Package client holds @gatehouse/client, the browser client for
// Gatehouse, as the files npm packs, so that the demo page serves the very
// module that apps import, with no build step and no copy.
package client

import "embed"

// Files holds gatehouse.js and its type declarations, gatehouse.d.ts.
//
//go:embed gatehouse.js gatehouse.d.ts
var Files embed.FS
