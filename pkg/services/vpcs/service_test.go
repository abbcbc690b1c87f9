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

package vpcs

import (
	"errors"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
)

// TestSplitCIDR: a CIDR becomes VPSie's networkRange and networkSize; anything else is a terminal spec error.
func TestSplitCIDR(t *testing.T) {
	g := NewWithT(t)
	r, s, err := SplitCIDR("10.42.0.0/16")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]string{r, s}).To(Equal([]string{"10.42.0.0", "16"}))
	for _, bad := range []string{"10.42.0.1/16", "10.42.0.0", "fd00::/64", "nonsense"} {
		_, _, err := SplitCIDR(bad)
		g.Expect(errors.Is(err, services.ErrTerminal)).To(BeTrue(), bad)
	}
}
