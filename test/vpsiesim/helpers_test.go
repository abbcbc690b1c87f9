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

package vpsiesim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

const (
	testToken    = "static-token"
	testClientID = "client-id"
	testSecret   = "client-secret"
	testPassword = "account-password"
)

// newSim starts a simulator with test credentials; mutate adjusts the options.
func newSim(t *testing.T, mutate func(*vpsiesim.Options)) *vpsiesim.Server {
	t.Helper()
	o := vpsiesim.Options{
		ClientID: testClientID, ClientSecret: testSecret, Tokens: []string{testToken},
		AccountPassword: testPassword, BootDelay: 100 * time.Millisecond, LBPendingDelay: 100 * time.Millisecond,
		Seed: 42,
	}
	if mutate != nil {
		mutate(&o)
	}
	srv := vpsiesim.NewServer(o)
	t.Cleanup(srv.Close)
	return srv
}

// resp is a raw HTTP answer plus the decoded envelope when the body is JSON.
type resp struct {
	Status  int
	Header  http.Header
	Body    []byte
	Error   bool            `json:"error"`
	Data    json.RawMessage `json:"data"`
	Total   int             `json:"total"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
}

// api talks raw HTTP to the simulator, as any client would.
type api struct {
	t       *testing.T
	base    string
	headers map[string]string
}

func newAPI(t *testing.T, base string) *api {
	return &api{t: t, base: base, headers: map[string]string{"Vpsie-Auth": testToken}}
}

func (a *api) with(k, v string) *api {
	h := map[string]string{}
	for kk, vv := range a.headers {
		h[kk] = vv
	}
	h[k] = v
	return &api{t: a.t, base: a.base, headers: h}
}

func (a *api) anonymous() *api { return &api{t: a.t, base: a.base, headers: map[string]string{}} }

// do sends body as JSON (a string is sent verbatim as JSON text; url.Values as a form).
func (a *api) do(method, path string, body any) resp {
	a.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range a.headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	out := resp{Status: res.StatusCode, Header: res.Header, Body: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && !strings.HasPrefix(path, "/_sim/") {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: invalid JSON %q: %v", method, path, raw, err)
		}
		out.Status, out.Header, out.Body = res.StatusCode, res.Header, raw
	}
	return out
}

func (a *api) get(path string) resp              { return a.do(http.MethodGet, path, nil) }
func (a *api) post(path string, body any) resp   { return a.do(http.MethodPost, path, body) }
func (a *api) delete(path string, body any) resp { return a.do(http.MethodDelete, path, body) }
func (a *api) put(path string, body any) resp    { return a.do(http.MethodPut, path, body) }
func (r resp) list() []map[string]any            { var v []map[string]any; mustJSON(r.Data, &v); return v }
func (r resp) object() map[string]any            { var v map[string]any; mustJSON(r.Data, &v); return v }
func (r resp) dataIs(v string) bool              { return string(r.Data) == v }
func mustJSON(b []byte, v any)                   { _ = json.Unmarshal(b, v) }
func (r resp) String() string                    { return string(r.Body) }
func str(m map[string]any, k string) string      { s, _ := m[k].(string); return s }
func num(m map[string]any, k string) float64     { n, _ := m[k].(float64); return n }
func (r resp) ok() bool                          { return r.Status == 200 && !r.Error }
func (r resp) errorWith(status int, msg string) bool {
	return r.Status == status && r.Error && strings.Contains(r.Message, msg)
}

// createVM posts a valid CreateServerRequest under prefix with the given overrides.
func createVMBody(hostname string, over map[string]any) map[string]any {
	b := map[string]any{
		"resourceIdentifier": vpsiesim.DefaultPlan, "osIdentifier": vpsiesim.DefaultImage,
		"dcIdentifier": vpsiesim.DefaultDatacenter, "hostname": hostname, "projectId": "",
		"vmPassword": "vm-secret", "addPublicIpV4": "1", "addPublicIpV6": "0", "addPrivateIp": "0",
		"backupEnabled": "0", "weeklyBackupEnabled": "0", "monthlyBackupEnabled": "0",
		"tags": []string{"cluster:demo"},
	}
	for k, v := range over {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

// findByHostname returns the listed VMs with that hostname.
func findByHostname(list []map[string]any, hostname string) []map[string]any {
	var out []map[string]any
	for _, v := range list {
		if strings.EqualFold(str(v, "hostname"), hostname) {
			out = append(out, v)
		}
	}
	return out
}

// pendingHostnames lists the hostnames in /apps/v2/vm/pending.
func pendingHostnames(a *api) []string {
	var out []string
	for _, p := range a.get("/apps/v2/vm/pending").list() {
		d, _ := p["data"].(map[string]any)
		out = append(out, str(d, "hostname"))
	}
	return out
}

// bootedVM waits until hostname is listed under prefix and returns its VmData.
func bootedVM(g Gomega, a *api, prefix, hostname string) map[string]any {
	var vm map[string]any
	g.Eventually(func() int {
		found := findByHostname(a.get(prefix+"/vm").list(), hostname)
		if len(found) == 1 {
			vm = found[0]
		}
		return len(found)
	}, 10*time.Second, 20*time.Millisecond).Should(Equal(1))
	return vm
}
