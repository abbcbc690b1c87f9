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

// Command image builds the manager's OCI image for linux/amd64 and linux/arm64 without a container engine and
// without pulling a base image: each image is one layer holding the static manager binary and a CA bundle (the
// manager reaches VPSie's API over TLS), runs as the non-root user 65532 and is labelled with its version and
// source. The result is an OCI image layout (index of both platforms) packed into one tar file; -push also
// publishes the index to a registry with the credentials of the Docker config (the release workflow logs in
// to ghcr.io first).
//
//	go run ./hack/image -out bin/manager-image.tar -version v0.1.0 \
//	  -binary linux/amd64=bin/manager-linux-amd64 -binary linux/arm64=bin/manager-linux-arm64 \
//	  [-push ghcr.io/vpsieinc/cluster-api-provider-vpsie:v0.1.0]
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the numeric user and group the manager runs as (the "nonroot" user of distroless images).
const User = "65532:65532"

// Options say what to build.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to the static manager binary built for it.
	Binaries map[string]string
	// CACerts is the CA bundle put at /etc/ssl/certs/ca-certificates.crt.
	CACerts string
	// Version, Source and Revision become the org.opencontainers.image.* labels.
	Version, Source, Revision string
	// Out is the tar file written.
	Out string
	// Push, when set, is the reference the index is also pushed to.
	Push string
}

func main() {
	o := Options{Binaries: map[string]string{}}
	flag.Func("binary", "platform=path of the manager binary, e.g. linux/amd64=bin/manager-linux-amd64 (repeatable)", func(v string) error {
		platform, path, ok := strings.Cut(v, "=")
		if !ok {
			return errors.New("want platform=path")
		}
		o.Binaries[platform] = path
		return nil
	})
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to put into the image")
	flag.StringVar(&o.Version, "version", "v0.1.0-dev", "image version label")
	flag.StringVar(&o.Source, "source", "https://github.com/vpsieinc/cluster-api-provider-vpsie", "image source label")
	flag.StringVar(&o.Revision, "revision", "", "image revision label (the git commit)")
	flag.StringVar(&o.Out, "out", "bin/manager-image.tar", "OCI layout tar file to write")
	flag.StringVar(&o.Push, "push", "", "also push the image index to this reference (credentials from the Docker config)")
	flag.Parse()
	if err := Build(o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", o.Out)
}

// Build writes the multi-platform image of o.Binaries to o.Out.
func Build(o Options) error {
	if len(o.Binaries) == 0 {
		return errors.New("no binary given")
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return fmt.Errorf("reading the CA bundle: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms) // a stable index for the same input
	for _, p := range platforms {
		osName, arch, ok := strings.Cut(p, "/")
		if !ok {
			return fmt.Errorf("platform %q: want os/arch", p)
		}
		img, err := platformImage(o, osName, arch, o.Binaries[p], certs)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}}})
	}
	dir, err := os.MkdirTemp("", "manager-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := layout.Write(dir, idx); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	if err := tarDir(dir, o.Out); err != nil {
		return err
	}
	if o.Push == "" {
		return nil
	}
	ref, err := name.ParseReference(o.Push)
	if err != nil {
		return fmt.Errorf("-push %q: %w", o.Push, err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	fmt.Println("pushed", ref)
	return nil
}

// platformImage is one platform's image: a single layer, the manager's config.
func platformImage(o Options, osName, arch, binary string, certs []byte) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the manager binary: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{
		{name: "etc/", mode: 0o755}, {name: "etc/ssl/", mode: 0o755}, {name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "manager", mode: 0o755, data: bin},
	} {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = osName, arch
	cfg.Config.User = User
	cfg.Config.Entrypoint = []string{"/manager"}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    "cluster-api-provider-vpsie",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	return mutate.ConfigFile(img, cfg)
}

// tarDir packs the files of dir into the tar file out, paths relative to dir.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.ModTime = filepath.ToSlash(rel), time.Unix(0, 0)
		if info.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil || info.IsDir() {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
