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

package main

import (
	"archive/tar"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	. "github.com/onsi/gomega"
)

// TestImage builds the manager for both platforms, packs them as `make image` does, opens the tarball as a
// registry client would and checks each image's config; then it runs the binary taken out of the image of this
// machine's architecture with --help.
func TestImage(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	binaries := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		out := filepath.Join(dir, "manager-linux-"+arch)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "github.com/vpsieinc/cluster-api-provider-vpsie")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		b, err := cmd.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), "building the manager for %s: %s", arch, b)
		binaries["linux/"+arch] = out
	}
	certs := filepath.Join(dir, "ca.crt")
	g.Expect(os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644)).To(Succeed())
	tarFile := filepath.Join(dir, "out", "manager-image.tar")
	g.Expect(Build(Options{Binaries: binaries, CACerts: certs, Version: "v9.9.9", Source: "https://example.invalid/src",
		Revision: "abc123", Out: tarFile})).To(Succeed())

	// Unpack the OCI layout and read it back.
	layoutDir := filepath.Join(dir, "layout")
	untar(t, tarFile, layoutDir)
	idx, err := layout.ImageIndexFromPath(layoutDir)
	g.Expect(err).NotTo(HaveOccurred())
	manifest, err := idx.IndexManifest()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(manifest.MediaType).To(BeEquivalentTo("application/vnd.oci.image.index.v1+json"))
	var platforms []string
	for _, d := range manifest.Manifests {
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := idx.Image(d.Digest)
		g.Expect(err).NotTo(HaveOccurred())
		cfg, err := img.ConfigFile()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cfg.OS + "/" + cfg.Architecture).To(Equal(d.Platform.OS + "/" + d.Platform.Architecture))
		g.Expect(cfg.Config.User).To(Equal("65532:65532"), "non-root")
		g.Expect(cfg.Config.Entrypoint).To(Equal([]string{"/manager"}))
		g.Expect(cfg.Config.Labels).To(SatisfyAll(HaveKeyWithValue("org.opencontainers.image.version", "v9.9.9"),
			HaveKeyWithValue("org.opencontainers.image.source", "https://example.invalid/src"),
			HaveKeyWithValue("org.opencontainers.image.revision", "abc123")))
		files := layerFiles(t, img)
		g.Expect(files).To(HaveKeyWithValue("etc/ssl/certs/ca-certificates.crt", ContainSubstring("BEGIN CERTIFICATE")))
		g.Expect(files).To(HaveKey("manager"))
		if d.Platform.Architecture == runtime.GOARCH {
			bin := filepath.Join(dir, "from-image-manager")
			g.Expect(os.WriteFile(bin, []byte(files["manager"]), 0o755)).To(Succeed())
			out, err := exec.Command(bin, "--help").CombinedOutput()
			// The flag package exits 0 for -help with the usage on stderr.
			g.Expect(err).NotTo(HaveOccurred(), "%s", out)
			g.Expect(string(out)).To(ContainSubstring("--vpsie-api-url"))
		}
	}
	g.Expect(platforms).To(ConsistOf("linux/amd64", "linux/arm64"))

	// -push publishes the same index (here to an in-memory registry), as the release workflow does to ghcr.io.
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/vpsieinc/cluster-api-provider-vpsie:v9.9.9"
	g.Expect(Build(Options{Binaries: binaries, CACerts: certs, Version: "v9.9.9", Source: "https://example.invalid/src",
		Revision: "abc123", Out: filepath.Join(dir, "again.tar"), Push: ref})).To(Succeed())
	parsed, err := name.ParseReference(ref)
	g.Expect(err).NotTo(HaveOccurred())
	pulled, err := remote.Index(parsed)
	g.Expect(err).NotTo(HaveOccurred())
	pushed, err := pulled.IndexManifest()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pushed.Manifests).To(HaveLen(2))
	digest, err := pulled.Digest()
	g.Expect(err).NotTo(HaveOccurred())
	local, err := idx.Digest()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(digest).To(Equal(local), "the pushed index is the one in the tarball: the build is reproducible")
}

// layerFiles reads every regular file of an image's layers.
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	g := NewWithT(t)
	layers, err := img.Layers()
	g.Expect(err).NotTo(HaveOccurred())
	files := map[string]string{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		g.Expect(err).NotTo(HaveOccurred())
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			g.Expect(err).NotTo(HaveOccurred())
			if h.Typeflag == tar.TypeReg {
				g.Expect(h.Uid).To(BeZero(), "%s is root's", h.Name)
				b, err := io.ReadAll(tr)
				g.Expect(err).NotTo(HaveOccurred())
				files[strings.TrimPrefix(h.Name, "/")] = string(b)
			}
		}
		g.Expect(rc.Close()).To(Succeed())
	}
	return files
}

func untar(t *testing.T, file, dir string) {
	t.Helper()
	g := NewWithT(t)
	f, err := os.Open(file)
	g.Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		g.Expect(err).NotTo(HaveOccurred())
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		g.Expect(strings.HasPrefix(target, filepath.Clean(dir)+string(os.PathSeparator))).To(BeTrue(), "entry %s stays inside", h.Name)
		if h.Typeflag == tar.TypeDir {
			g.Expect(os.MkdirAll(target, 0o755)).To(Succeed())
			continue
		}
		g.Expect(os.MkdirAll(filepath.Dir(target), 0o755)).To(Succeed())
		out, err := os.Create(target)
		g.Expect(err).NotTo(HaveOccurred())
		_, err = io.Copy(out, tr)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out.Close()).To(Succeed())
	}
}
