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

// The Kubernetes parts of the management (= workload) cluster besides its API server and etcd:
// kube-controller-manager, kube-scheduler and kwok, each its own process built by hack/kube-assets.sh and
// found next to kube-apiserver in KUBEBUILDER_ASSETS. kwok is the kubelet of every Node the harness registers
// for a booted server: it keeps the Node's lease and Ready condition alive and runs the pods the scheduler
// binds there. The node lifecycle controller turns a Node whose kwok stopped (its server is gone) Unknown,
// as it would a real one whose kubelet died.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// kwokManagedLabel marks the Nodes kwok plays the kubelet of. The harness sets it once a Node's capacity and
// addresses are reported, and takes it off when the server is gone, so that kwok stops heartbeating it.
const kwokManagedLabel = "e2e.capvpsie/kwok"

// kwokVersion is the kwok that hack/e2e-tools/go.mod pins: hack/kube-assets.sh names the binary and its
// stages after it.
func kwokVersion() (string, error) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "hack", "e2e-tools", "go.mod"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*sigs\.k8s\.io/kwok (v\S+)`).FindSubmatch(raw)
	if m == nil {
		return "", fmt.Errorf("hack/e2e-tools/go.mod pins no sigs.k8s.io/kwok")
	}
	return string(m[1]), nil
}

// Node lifecycle timing: kwok renews a Node's lease every quarter of nodeLeaseSeconds; the node lifecycle
// controller turns a Node Unknown after nodeGraceSeconds without a renewal. Production uses 40 s and 50 s;
// shorter here so that a vanished server's Node goes Unknown within seconds, long enough that a lease renewal
// delayed by a busy 2-core machine is never mistaken for a dead kubelet.
const (
	nodeLeaseSeconds = 12
	nodeGraceSeconds = 24
)

// kubeControllers are the kube-controller-manager controllers the harness runs: what a Deployment, a
// PodDisruptionBudget, the flavors' CNI DaemonSet, a Node's health, eviction and owner-reference garbage
// collection need. No cloud provider: the flavors run none (VPSie's optional one does load balancers only).
var kubeControllers = []string{
	"node-lifecycle-controller", "taint-eviction-controller", "pod-garbage-collector-controller",
	"deployment-controller", "replicaset-controller", "daemonset-controller", "disruption-controller",
	"garbage-collector-controller", "serviceaccount-controller",
}

// component is one of the Kubernetes processes the harness runs, with its output in a log file.
type component struct {
	name    string
	LogPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// startComponent runs the binary at path with args, its output in workDir/name.log.
func startComponent(workDir, name, path string, args ...string) (*component, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &component{name: name, LogPath: filepath.Join(workDir, name+".log")}
	log, err := os.Create(c.LogPath)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(path, args...)
	c.cmd.Stdout, c.cmd.Stderr = log, log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c.exited = make(chan struct{})
	go func() { _ = c.cmd.Wait(); _ = log.Close(); close(c.exited) }()
	return c, nil
}

// Exited reports whether the process has ended (it never should while the harness runs).
func (c *component) Exited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM) and kills it after 5 seconds.
func (c *component) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// startKubeComponents starts kube-controller-manager, kube-scheduler and kwok against the API server the
// administrator kubeconfig reaches.
func (h *Harness) startKubeComponents() error {
	kubeconfig := h.KubeconfigPath
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	for _, b := range []string{"kube-controller-manager", "kube-scheduler"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return fmt.Errorf("%w (hack/kube-assets.sh builds it; run it again)", err)
		}
	}
	kcm, err := startComponent(h.WorkDir, "kube-controller-manager", filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--leader-elect=false", "--secure-port=0",
		"--controllers", strings.Join(kubeControllers, ","),
		"--node-monitor-period=2s", fmt.Sprintf("--node-monitor-grace-period=%ds", nodeGraceSeconds),
		// --v=1: at 2 the node lifecycle controller logs every Unknown Node every period.
		"--kube-api-qps=100", "--kube-api-burst=200", "--v=1")
	if err != nil {
		return err
	}
	h.components = append(h.components, kcm)
	scheduler, err := startComponent(h.WorkDir, "kube-scheduler", filepath.Join(assets, "kube-scheduler"),
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--leader-elect=false", "--secure-port=0", "--kube-api-qps=100", "--kube-api-burst=200", "--v=2")
	if err != nil {
		return err
	}
	h.components = append(h.components, scheduler)
	version, err := kwokVersion()
	if err != nil {
		return err
	}
	kwok, err := startComponent(h.WorkDir, "kwok", filepath.Join(assets, "kwok-"+version),
		"--kubeconfig", kubeconfig,
		"--config", filepath.Join(assets, "kwok-"+version+"-stages-node-fast-pod-general.yaml"),
		"--manage-nodes-with-label-selector", kwokManagedLabel+"=true",
		fmt.Sprintf("--node-lease-duration-seconds=%d", nodeLeaseSeconds),
		"--server-address=", "--cidr=10.244.0.1/16", "--v=WARN")
	if err != nil {
		return err
	}
	h.components = append(h.components, kwok)
	// A flag this version refuses ends a process at once: report it now rather than as Nodes that never
	// turn Ready.
	time.Sleep(time.Second)
	for _, c := range h.components {
		if c.Exited() {
			return fmt.Errorf("%s exited at start: %s", c.name, tail(c.LogPath, 20))
		}
	}
	return nil
}

// stopKubeComponents ends the processes startKubeComponents started.
func (h *Harness) stopKubeComponents() {
	for _, c := range h.components {
		c.stop()
	}
	h.components = nil
}

// tail is the end of a file, for errors.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
