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

package cloudinit

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// userDataOf builds user data of a kubeadm bootstrap plus an extra part of n bytes: repetitive (compressible
// like real cloud-config) or random (as incompressible as certificates and keys).
func userDataOf(t *testing.T, n int, compressible bool) []byte {
	t.Helper()
	var extra strings.Builder
	extra.WriteString("#cloud-config\nwrite_files:\n")
	rng := rand.New(rand.NewSource(1))
	for extra.Len() < n {
		if compressible {
			fmt.Fprintf(&extra, "  - path: /etc/example/%d.conf\n    content: setting=value\n", extra.Len())
		} else {
			b := make([]byte, 48)
			rng.Read(b)
			fmt.Fprintf(&extra, "  - content: %s\n", base64.StdEncoding.EncodeToString(b))
		}
	}
	data, err := Build([]byte(kubeadmBootstrap), Part{Name: "additional-cloud-init", Content: []byte(extra.String())})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return data
}

func TestFitSendsWhatIsUnderTheLimitUnchanged(t *testing.T) {
	g := NewWithT(t)
	data := userDataOf(t, 10_000, true)
	for _, limit := range []int{0, base64.StdEncoding.EncodedLen(len(data)), DefaultSizeLimit} {
		out, compressed, err := Fit(data, limit)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(compressed).To(BeFalse())
		g.Expect(out).To(Equal(data), "limit %d", limit)
	}
}

func TestFitCompressesWhatFitsOnlyCompressed(t *testing.T) {
	g := NewWithT(t)
	data := userDataOf(t, 100_000, true)
	limit := base64.StdEncoding.EncodedLen(len(data)) - 1
	out, compressed, err := Fit(data, limit)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(compressed).To(BeTrue())
	g.Expect(base64.StdEncoding.EncodedLen(len(out))).To(BeNumerically("<=", limit))
	// What cloud-init reads after decompressing is exactly the message as built: its MIME headers and merge
	// types included.
	plain, err := gunzip(out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(plain).To(Equal(data))
	g.Expect(parse(t, plain)).To(HaveLen(2))
	// The same input gives the same bytes: no needless change between reconciles.
	again, _, _ := Fit(data, limit)
	g.Expect(again).To(Equal(out))
}

func TestFitRefusesWhatIsTooLargeEvenCompressed(t *testing.T) {
	g := NewWithT(t)
	data := userDataOf(t, 100_000, false)
	_, compressed, err := Fit(data, 50_000)
	g.Expect(compressed).To(BeFalse())
	g.Expect(errors.Is(err, ErrTooLarge)).To(BeTrue())
	var tooLarge *TooLargeError
	g.Expect(errors.As(err, &tooLarge)).To(BeTrue())
	g.Expect(tooLarge.Plain).To(Equal(base64.StdEncoding.EncodedLen(len(data))))
	g.Expect(tooLarge.Compressed).To(BeNumerically(">", 50_000))
	g.Expect(tooLarge.Compressed).To(BeNumerically("<", tooLarge.Plain))
	g.Expect(err.Error()).To(And(ContainSubstring(fmt.Sprintf("%d bytes as sent", tooLarge.Plain)),
		ContainSubstring("over the limit of 50000")))
}
