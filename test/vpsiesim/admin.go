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
	"encoding/json"
	"io"
	"net/http"
)

// Admin endpoints under /_sim/ are not part of the VPSie API: they need no authentication, are not counted and
// are not subject to faults. They answer plain JSON (no envelope); errors are {"error":"..."}.
func (s *Simulator) adminRoutes() {
	m := http.NewServeMux()
	s.admin = m
	m.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Snapshot())
	})
	m.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, RequestStats{Requests: s.Requests(), Total: s.TotalRequests()})
	})
	m.HandleFunc("POST /_sim/reset-counters", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCounters()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyBytes))
		if err == nil && len(b) > 0 {
			err = json.Unmarshal(b, &f)
		}
		if err == nil {
			err = f.validate()
		}
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.applyFaults(f)
		writeJSON(w, http.StatusOK, s.Faults())
	})
	m.HandleFunc("POST /_sim/vms/{identifier}/boot", func(w http.ResponseWriter, r *http.Request) {
		adminResult(w, s.BootNow(r.PathValue("identifier")))
	})
	m.HandleFunc("POST /_sim/vms/{identifier}/vanish", func(w http.ResponseWriter, r *http.Request) {
		adminResult(w, s.VanishVM(r.PathValue("identifier")))
	})
	m.HandleFunc("POST /_sim/tokens/revoke", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeTokens()
		adminResult(w, nil)
	})
	m.HandleFunc("POST /_sim/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		adminResult(w, nil)
	})
	m.HandleFunc("GET /_sim/routes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Routes())
	})
	m.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "unknown admin endpoint")
	})
}

// RequestStats is the answer of GET /_sim/requests.
type RequestStats struct {
	// Requests counts API requests by "METHOD route-pattern" (e.g. "GET /api/v2/vm"), "UNMATCHED" for the rest.
	Requests map[string]int `json:"requests"`
	Total    int            `json:"total"`
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func adminResult(w http.ResponseWriter, err error) {
	if err != nil {
		adminError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
