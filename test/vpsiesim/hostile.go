/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package vpsiesim

import (
	"net/http"
	"strings"
)

// readOnlyPOSTs are POST routes that change nothing in the cloud: losing their answer punishes nothing, so
// Faults.LostAnswerRate/Next leave them alone.
var readOnlyPOSTs = []string{loginPattern, "POST /apps/v2/resources", "POST /api/v1/lb/offers"}

// isMutating reports whether a request-count key names a route that changes cloud state.
func isMutating(key string) bool {
	method, _, _ := strings.Cut(key, " ")
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return !contains(readOnlyPOSTs, key)
	}
	return false
}

// loseAnswer drops the connection without writing a response, so that the client sees a network error
// (EOF, connection reset) and cannot tell whether the request took effect — what a gateway timeout or a
// crashed proxy does after the backend did the work. The client's transport does not replay the request:
// Go only retries idempotent methods, and the lost answers are of mutating ones.
func loseAnswer(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	// Not hijackable (HTTP/2, a recorder): net/http aborts the response when a handler panics with this.
	panic(http.ErrAbortHandler)
}
