// Package httpjson holds the conventions the business services speak over HTTP: request
// bodies decoded strictly, with errors that name the field and the fix; answers and
// {"error": "..."} bodies written as JSON; errors mapped to status codes through the
// HTTPStatus method they carry; the router's own 404 and 405 answers turned into JSON; and
// the rule for identifiers in paths and bodies.
//
// It imports nothing but the standard library, and never the harness, the scenarios, the
// gateway, the registry server, the store or a service package.
package httpjson
