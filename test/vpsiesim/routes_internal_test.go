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
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRoutesMatchRegistrations keeps Routes() (used by /_sim/routes and the README) in step with the mux.
func TestRoutesMatchRegistrations(t *testing.T) {
	for _, prefixes := range [][]string{nil, {"/api/v2"}, {"/apps/v2"}} {
		s := New(Options{VMPrefixes: prefixes})
		routes := s.Routes()
		seen := map[string]bool{}
		for _, route := range routes {
			if seen[route] {
				t.Errorf("route %q listed twice", route)
			}
			seen[route] = true
			method, path, _ := strings.Cut(route, " ")
			path = strings.NewReplacer("{identifier}", "x", "{id}", "x").Replace(path)
			if _, got := s.mux.Handler(httptest.NewRequest(method, path, nil)); got != route {
				t.Errorf("prefixes %v: %s %s matches %q, want %q", prefixes, method, path, got, route)
			}
		}
		s.Close()
	}
}
