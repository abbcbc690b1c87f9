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

package scope

import (
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// TestClusterResourceName: names are deterministic, valid DNS labels of at most 63 characters, and differ for
// different clusters even when namespace and name are cut to the same prefix or join to the same text.
func TestClusterResourceName(t *testing.T) {
	g := NewWithT(t)
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	long := strings.Repeat("x", 80)
	names := map[string]bool{}
	for _, c := range [][2]string{
		{"default", "prod"}, {"default-prod", ""}, {"default", "prod-"}, {"Team_A", "Prod.EU"},
		{"ns", long + "a"}, {"ns", long + "b"}, {long, long}, {"", ""},
	} {
		n := ClusterResourceName("mgmt-a", c[0], c[1])
		g.Expect(n).To(MatchRegexp(label.String()), "%q/%q", c[0], c[1])
		g.Expect(len(n)).To(BeNumerically("<=", 63))
		g.Expect(n).To(HavePrefix("capvpsie-"))
		g.Expect(ClusterResourceName("mgmt-a", c[0], c[1])).To(Equal(n))
		other := ClusterResourceName("mgmt-b", c[0], c[1])
		g.Expect(other).NotTo(Equal(n), "another management cluster's cluster of the same namespace/name gets another name")
		g.Expect(names).NotTo(HaveKey(n), "%q/%q", c[0], c[1])
		names[n] = true
	}
	g.Expect(ClusterResourceName("mgmt-a", "default", "prod")).To(MatchRegexp(`^capvpsie-default-prod-[0-9a-f]{8}$`))
}
