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

// The provider's manager as its own process: built from this repository, pointed at the local API server
// with an administrator kubeconfig and at the simulator, serving its webhooks on a free local port with
// envtest's serving certificate. Its webhook configurations are config/webhook/manifests.yaml with the
// service reference replaced by that URL.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/envtest"
)

// repoRoot is the root of this repository.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildProvider builds the manager (main.go) into binary; with a warm build cache it takes seconds.
func buildProvider(binary string) error {
	cmd := exec.Command("go", "build", "-o", binary, ".")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the provider's manager: %w\n%s", err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Provider is the provider's manager process. It can be killed and started again (same flags, same port).
type Provider struct {
	LogPath     string
	WebhookPort int
	binary      string
	args        []string
	log         io.Writer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
	extra  []string // flags after args (a later flag wins): SetExtraFlags

	outMu   sync.Mutex
	capture *bytes.Buffer // a copy of the output while Capture runs
}

// output is where the manager's stdout and stderr go (and the harness's notes about it): the log, and the
// capture while there is one.
type output struct{ p *Provider }

func (o output) Write(b []byte) (int, error) {
	o.p.outMu.Lock()
	defer o.p.outMu.Unlock()
	if o.p.capture != nil {
		o.p.capture.Write(b)
	}
	return o.p.log.Write(b)
}

// Capture copies everything the manager writes from now on, across restarts, until the returned function is
// called; it returns the copy.
func (p *Provider) Capture() (stop func() []byte) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	buf := &bytes.Buffer{}
	p.capture = buf
	return func() []byte {
		p.outMu.Lock()
		defer p.outMu.Unlock()
		if p.capture == buf {
			p.capture = nil
		}
		return buf.Bytes()
	}
}

// SetExtraFlags sets flags given after the harness's own (so they override them) from the next Start on, and
// at every start after it, until set again; nil goes back to the harness's flags alone.
func (p *Provider) SetExtraFlags(flags []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.extra = append([]string(nil), flags...)
}

// Args are the flags the manager is (or will next be) started with.
func (p *Provider) Args() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(append([]string(nil), p.args...), p.extra...)
}

// Starts is how many times the manager was started.
func (p *Provider) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Restart kills the manager (SIGKILL) and starts it again at once, with the same flags.
func (p *Provider) Restart() error {
	p.Kill()
	return p.Start()
}

func newProvider(binary string, h *Harness, log io.Writer, production bool) (*Provider, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Provider{binary: binary, WebhookPort: port, log: log, LogPath: filepath.Join(h.WorkDir, "provider.log")}
	p.args = []string{
		"--kubeconfig", h.ProviderKubeconfigPath,
		"--vpsie-api-url", h.Sim.URL,
		"--webhook-port", strconv.Itoa(port),
		"--webhook-cert-dir", h.Env.WebhookInstallOptions().LocalServingCertDir,
		"--insecure-diagnostics", "--diagnostics-address", "127.0.0.1:0",
		"--health-addr", "127.0.0.1:0",
		"--graceful-shutdown-timeout", "5s",
		// Every log line the provider's code has (V(4) and below), so that the scan after each scenario (logscan.go) reads them all.
		"--v", "4",
	}
	if !production {
		p.args = append(p.args,
			// Short waits: the simulator answers in milliseconds, production waits are for the real cloud.
			"--server-poll-window", "1s",
			"--server-poll-interval", "1s", "--running-server-check-interval", "2s", "--cluster-resource-poll-interval", "1s",
			"--vpsie-api-requests-per-minute", "60000", "--vpsie-api-burst", "1000")
	}
	if log == nil {
		f, err := os.Create(p.LogPath)
		if err != nil {
			return nil, err
		}
		p.log = f
	}
	return p, nil
}

// Start runs the manager; it does not wait for it to be ready.
func (p *Provider) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("the provider's manager is already running")
	}
	cmd := exec.Command(p.binary, append(append([]string(nil), p.args...), p.extra...)...)
	// The same comparable writer for both: exec then copies them with one goroutine.
	cmd.Stdout, cmd.Stderr = output{p}, output{p}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the provider's manager: %w", err)
	}
	p.starts++
	_, _ = fmt.Fprintf(output{p}, "=== e2e harness %s: manager started (start #%d, pid %d)\n",
		time.Now().Format(time.TimeOnly+".000"), p.starts, cmd.Process.Pid)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	return nil
}

// PID is the running manager's process id, 0 when it does not run.
func (p *Provider) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill ends the manager at once (SIGKILL), as a crashed or evicted pod would, and waits until it is gone.
func (p *Provider) Kill() { p.end(syscall.SIGKILL, 0) }

// Stop asks the manager to shut down (SIGTERM), killing it if it has not stopped within 10 seconds.
func (p *Provider) Stop() { p.end(syscall.SIGTERM, 10*time.Second) }

func (p *Provider) end(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_, _ = fmt.Fprintf(output{p}, "=== e2e harness %s: manager stopped (%s)\n", time.Now().Format(time.TimeOnly+".000"), sig)
	p.cmd = nil
}

// LogTail is the end of the manager's log file (empty when the log goes elsewhere).
func (p *Provider) LogTail(lines int) string { return tail(p.LogPath, lines) }

// installProviderWebhooks installs config/webhook/manifests.yaml, pointed at the provider process.
func (h *Harness) installProviderWebhooks() error {
	return h.installWebhooks(filepath.Join(envtest.ProviderWebhookPath(), "manifests.yaml"), "capvpsie-",
		fmt.Sprintf("https://127.0.0.1:%d", h.Provider.WebhookPort))
}

// installWebhooks installs the webhook configurations of a manifests file under prefix+name (Cluster API's
// core configurations, installed by envtest, carry the same generated names), each webhook pointed at base
// plus its path and trusting envtest's serving certificate.
func (h *Harness) installWebhooks(file, prefix, base string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	ca := h.Env.WebhookInstallOptions().LocalServingCAData
	point := func(c *admissionv1.WebhookClientConfig) {
		url := base
		if c.Service != nil && c.Service.Path != nil {
			url += *c.Service.Path
		}
		*c = admissionv1.WebhookClientConfig{URL: &url, CABundle: ca}
	}
	ctx := context.Background()
	for _, doc := range strings.Split(string(raw), "\n---") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return err
		}
		var cfg client.Object
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			m := &admissionv1.MutatingWebhookConfiguration{}
			if err := yaml.Unmarshal([]byte(doc), m); err != nil {
				return err
			}
			for i := range m.Webhooks {
				point(&m.Webhooks[i].ClientConfig)
			}
			cfg = m
		case "ValidatingWebhookConfiguration":
			v := &admissionv1.ValidatingWebhookConfiguration{}
			if err := yaml.Unmarshal([]byte(doc), v); err != nil {
				return err
			}
			for i := range v.Webhooks {
				point(&v.Webhooks[i].ClientConfig)
			}
			cfg = v
		default:
			continue
		}
		cfg.SetName(prefix + cfg.GetName())
		if err := h.Client.Create(ctx, cfg); err != nil {
			return fmt.Errorf("installing the webhooks of %s: %w", file, err)
		}
	}
	return nil
}
