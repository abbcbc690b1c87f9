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

package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
)

// BootstrapMarker is in the bootstrap data of every e2e cluster: seen in the provider's log, it means bootstrap
// data (which holds join tokens and, for control planes, keys) was logged.
const BootstrapMarker = "e2e-bootstrap-data-5c1f0e7a"

// bootstrapData is the bootstrap data Secret's value of every e2e cluster.
const bootstrapData = "#cloud-config\nruncmd:\n- echo joined by the e2e harness " + BootstrapMarker + "\n"

// secretsToHide are what the provider must never log, by what they are: the credentials and account password
// of the e2e clusters, every token the simulator issued so far, and bootstrap data, plain or as the base64
// userData a create sends.
func (h *Harness) secretsToHide() map[string]string {
	secrets := map[string]string{"client secret": SimClientSecret, "client id": SimClientID,
		"account password": SimPassword, "static API token": SimToken,
		"bootstrap data": BootstrapMarker, "bootstrap data (base64)": base64.StdEncoding.EncodeToString([]byte(bootstrapData))}
	for i, tok := range h.Sim.TokensIssued() {
		secrets[fmt.Sprintf("issued token #%d", i+1)] = tok
	}
	return secrets
}

// LogSize is how much the provider's log file holds now: where a scan of what comes next starts. -1 when the
// log is not a file (a caller gave its own writer).
func (p *Provider) LogSize() int64 {
	if p.LogPath == "" {
		return -1
	}
	st, err := os.Stat(p.LogPath)
	if err != nil {
		return -1
	}
	return st.Size()
}

// logSince reads the provider's log file from offset on.
func (p *Provider) logSince(offset int64) ([]byte, error) {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// LeaksSince scans what the provider logged since offset (LogSize) for secretsToHide and the simulator's
// token pattern.
func (h *Harness) LeaksSince(offset int64) ([]leak, error) {
	if offset < 0 {
		return nil, nil
	}
	out, err := h.Provider.logSince(offset)
	if err != nil {
		return nil, err
	}
	return findSecrets(out, h.secretsToHide()), nil
}
