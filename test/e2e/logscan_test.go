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
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// TestLogScanFindsWhatWasLoggedSinceTheScenarioStarted: the scan every scenario ends with sees credentials,
// the account password and bootstrap data (plain or base64) logged after its start, and not what came before.
func TestLogScanFindsWhatWasLoggedSinceTheScenarioStarted(t *testing.T) {
	g := NewWithT(t)
	sim := vpsiesim.NewServer(vpsiesim.Options{Tokens: []string{SimToken}, AccountPassword: SimPassword, Seed: 1})
	defer sim.Close()
	logPath := filepath.Join(t.TempDir(), "provider.log")
	fake := &Harness{Sim: sim, Provider: &Provider{LogPath: logPath}}
	g.Expect(os.WriteFile(logPath, []byte("before the scenario: password "+SimPassword+"\n"), 0o600)).To(Succeed())
	from := fake.Provider.LogSize()
	g.Expect(from).To(BeNumerically(">", 0))

	leaks, err := fake.LeaksSince(from)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(leaks).To(BeEmpty())

	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = f.WriteString("I1202 creating server\nbody {\"userData\":\"" + base64.StdEncoding.EncodeToString([]byte(bootstrapData)) +
		"\"}\nrunning " + BootstrapMarker + "\nclient secret " + SimClientSecret + "\n")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Close()).To(Succeed())

	leaks, err = fake.LeaksSince(from)
	g.Expect(err).NotTo(HaveOccurred())
	var what []string
	for _, l := range leaks {
		what = append(what, l.What)
		g.Expect(l.Excerpt).NotTo(ContainSubstring(SimClientSecret))
	}
	g.Expect(what).To(ConsistOf("bootstrap data (base64)", "bootstrap data", "client secret"))
}
