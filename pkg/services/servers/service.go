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

// Package servers reconciles the VPSie server behind a VPSieMachine: it finds or creates it, follows it until
// it is up, and deletes it. VPSie answers a create with no identifier, so a server is known by its
// deterministic hostname until it shows up in the VM list; creation goes through the provider's one
// create-or-adopt mechanism (package intent).
package servers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/metrics"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Defaults of the server life cycle's Timing.
const (
	// DefaultPollInterval is how often a machine waiting for its server looks again (it reads the shared
	// snapshot).
	DefaultPollInterval = 10 * time.Second
	// DefaultDeletePollInterval is how often a deleting machine checks whether its server is gone.
	DefaultDeletePollInterval = 5 * time.Second
	// DefaultRunningPollInterval is how often a provisioned machine checks that its server still exists and runs
	// (from the shared snapshot), so a server stopped or deleted out of band shows in the conditions.
	DefaultRunningPollInterval = time.Minute
	// DefaultPendingTooLong is when a server VPSie accepted but never listed is reported on the condition.
	DefaultPendingTooLong = 15 * time.Minute
)

// Timing is the server life cycle's waits; zero fields take the defaults above.
type Timing struct {
	services.PollTiming
	// Running is the wait between checks of a running server.
	Running time.Duration
	// PendingTooLong is how long after an accepted create a server listed nowhere is reported as such.
	PendingTooLong time.Duration
}

// OrDefaults fills t's zero fields with the defaults.
func (t Timing) OrDefaults() Timing {
	return Timing{
		PollTiming:     t.PollTiming.OrDefaults(services.PollTiming{Poll: DefaultPollInterval, DeletePoll: DefaultDeletePollInterval}),
		Running:        services.OrDefault(t.Running, DefaultRunningPollInterval),
		PendingTooLong: services.OrDefault(t.PendingTooLong, DefaultPendingTooLong),
	}
}

// Service reconciles one machine's server.
type Service struct {
	scope    *scope.MachineScope
	observer *Observer
	intents  *intent.Tracker
	timing   Timing
	// looked is when the snapshot of this reconcile's last lookup by hostname was taken.
	looked time.Time
}

// NewService returns the server service for a machine. The observer and the intent tracker are the
// controller's, shared by all its machines.
func NewService(s *scope.MachineScope, o *Observer, intents *intent.Tracker, timing Timing) *Service {
	return &Service{scope: s, observer: o, intents: intents, timing: timing.OrDefaults()}
}

// Result is what Reconcile found.
type Result struct {
	// Server is the running server, set only once it is up with an address.
	Server *vpsie.VM
	// RequeueAfter asks to look again after this long.
	RequeueAfter time.Duration
}

// Reconcile finds, adopts or creates the machine's server and records its state, addresses and providerID.
func (s *Service) Reconcile(ctx context.Context) (Result, error) {
	m := s.scope.VPSieMachine
	hostname := s.scope.Hostname()
	m.Status.Hostname = hostname

	if id := s.scope.ServerIdentifier(); id != "" {
		// A running server's check may read an older list than a booting one's: at most two lists a running
		// interval whatever the number of machines, so an idle account's cost does not grow with it.
		maxAge := time.Duration(0)
		if m.Status.ServerState == infrav1.ServerStateRunning {
			maxAge = s.timing.Running / 2
		}
		vm, err := s.observer.Server(ctx, s.scope.Account, id, maxAge)
		switch {
		case vpsie.IsNotFound(err):
			return s.notFound(id), nil
		case err != nil:
			return Result{}, fmt.Errorf("reading server %s: %w", id, err)
		case vm == nil:
			return s.confirmMissing(ctx, id)
		}
		if !vm.IsGone() {
			s.claim(ctx, id)
		}
		return s.observe(vm), nil
	}

	var found []vpsie.VM
	var create vpsie.CreateVMRequest
	req := s.request(hostname, &found, true)
	req.Prepare = func(ctx context.Context) error {
		var err error
		create, err = s.createRequest(ctx, hostname)
		return err
	}
	req.Create = func(ctx context.Context) error {
		if err := s.scope.Account.API.CreateVM(ctx, create); err != nil {
			return fmt.Errorf("plan %q, image %q, datacenter %q: %w", create.ResourceIdentifier, create.OSIdentifier, create.DcIdentifier, err)
		}
		return nil
	}
	out, err := s.intents.Ensure(ctx, req)
	if err != nil {
		if intent.NothingCreated(err) && m.Status.ServerState == infrav1.ServerStatePending {
			m.Status.ServerState = ""
		}
		return Result{}, err
	}
	switch out.Phase {
	case intent.Found:
		vm := s.adopt(ctx, found)
		s.claim(ctx, string(vm.Identifier))
		return s.observe(vm), nil
	case intent.Accepted:
		s.scope.SetServerState(infrav1.ServerStatePending)
		return s.waitForAccepted(out.Since), nil
	case intent.Created:
		metrics.ServerCreates.Inc()
	}
	// Queued, Created or Uncertain.
	s.scope.SetServerState(infrav1.ServerStatePending)
	return s.pending(out.Waiting(ctx, "the server "+hostname)), nil
}

// serverKind is the intent kind of servers.
const serverKind = "server"

// request is the server's create-or-adopt: its lookups read the shared snapshot (pending queue first, then
// the complete VM list) and keep, in found, the live servers with the machine's hostname that the cluster's
// identity owns. Servers or queued creates with the hostname that another management cluster owns are an
// error when refuseForeign (nothing is adopted or created next to them), and are ignored otherwise (deletion
// never touches them).
func (s *Service) request(hostname string, found *[]vpsie.VM, refuseForeign bool) intent.Request {
	spec := s.scope.VPSieMachine.Spec
	return intent.Request{
		Kind:    serverKind,
		Account: s.scope.Account.Key,
		Name:    hostname,
		Fingerprint: services.Fingerprint(spec.Plan, spec.Image, s.scope.Datacenter(), s.scope.VPSieCluster.Spec.ProjectID,
			strings.Join(s.scope.SSHKeyIdentifiers(), ","), strings.Join(s.scope.Tags(), ",")),
		Intent:        &s.scope.VPSieMachine.Status.CreateIntent,
		ObjectCreated: s.scope.VPSieMachine.CreationTimestamp.Time,
		Persist:       s.scope.PatchNow,
		Lookup: func(ctx context.Context, fresh bool) (intent.Observation, error) {
			get := s.observer.Snapshot
			if fresh {
				get = s.observer.Fresh
			}
			snap, err := get(ctx, s.scope.Account)
			if err != nil {
				return intent.Observation{}, fmt.Errorf("listing servers: %w", err)
			}
			s.looked = snap.Taken
			vms, pending := snap.ByHostname(hostname)
			pending, err = s.oursPending(pending)
			if err != nil && refuseForeign {
				return intent.Observation{}, err
			}
			if len(vms) == 1 && s.scope.Identity() != "" && s.intents.SentHere(s.scope.Account.Key, serverKind, hostname) {
				// The server this process's own create made: the lookup before that create showed nothing of
				// the name, and a hostname that hashes our identity in is nobody else's, so it carries the
				// tags the create sent and there is nothing to read (a GET per server, as much as the create
				// itself). Two servers of the name, or a name without the identity (made before identities),
				// and every one is read.
				s.observer.serverTags().Set(s.scope.Account, string(vms[0].Identifier), s.scope.Tags())
			}
			if len(vms) > 0 {
				if vms, err = s.ours(ctx, vms); err != nil && (refuseForeign || !errors.Is(err, services.ErrTerminal)) {
					return intent.Observation{}, err
				}
			}
			*found = vms
			switch {
			case len(vms) > 0:
				return intent.Observation{Sight: intent.Listed, Since: snap.Taken}, nil
			case len(pending) > 0:
				return intent.Observation{Sight: intent.Queued, Since: snap.Taken}, nil
			}
			return intent.Observation{Sight: intent.Absent, Since: snap.Taken}, nil
		},
	}
}

// adopt picks the server to adopt among those with the machine's hostname: the oldest, so every reconcile
// picks the same one. More than one means something created duplicates; say so (deletion removes them all).
func (s *Service) adopt(ctx context.Context, vms []vpsie.VM) *vpsie.VM {
	sort.Slice(vms, func(i, j int) bool { return vms[i].ID < vms[j].ID })
	if len(vms) > 1 {
		ids := make([]string, 0, len(vms))
		for _, vm := range vms {
			ids = append(ids, string(vm.Identifier))
		}
		metrics.DuplicateServers.Add(float64(len(vms) - 1))
		ctrl.LoggerFrom(ctx).Info("Several servers share this machine's hostname; adopting the oldest, deleting the machine deletes them all",
			"hostname", s.scope.Hostname(), "servers", ids)
	}
	vm := vms[0]
	if s.scope.VPSieMachine.Status.ServerState != infrav1.ServerStatePending {
		// Not the follow-up of our own create: a lost answer, a crash, or status lost in a move.
		metrics.ServerAdoptions.Inc()
	}
	s.scope.SetServer(string(vm.Identifier))
	return &vm
}

// createRequest builds the create call: user data, SSH key, flags and ownership tags.
func (s *Service) createRequest(ctx context.Context, hostname string) (vpsie.CreateVMRequest, error) {
	userData, keyID, err := s.userData(ctx)
	if err != nil {
		return vpsie.CreateVMRequest{}, err
	}
	spec := s.scope.VPSieMachine.Spec
	return vpsie.CreateVMRequest{
		ResourceIdentifier: spec.Plan,
		OSIdentifier:       spec.Image,
		DcIdentifier:       s.scope.Datacenter(),
		Hostname:           hostname,
		ProjectID:          s.scope.VPSieCluster.Spec.ProjectID,
		Notes:              fmt.Sprintf("Cluster API machine %s/%s", s.scope.VPSieMachine.Namespace, s.scope.VPSieMachine.Name),
		SSHKeyIdentifier:   keyID,
		Tags:               s.scope.Tags(),
		AddPublicIPv4:      vpsie.Flag(spec.WantsPublicIPv4()),
		AddPublicIPv6:      vpsie.Flag(spec.WantsPublicIPv6()),
		AddPrivateIP:       vpsie.Flag(spec.WantsPrivateIP() || s.scope.VPSieCluster.Status.Network.VPCID != ""),
		UserData:           userData,
	}, nil
}

// userData merges the bootstrap data with the server's hostname, the machine's extra cloud-init and SSH keys, and picks the key
// VPSie installs itself (it takes only one).
func (s *Service) userData(ctx context.Context) ([]byte, string, error) {
	bootstrap, err := s.scope.BootstrapData(ctx)
	if err != nil {
		return nil, "", err
	}
	// The hostname first: the Node is named after it, and a user's cloud-init may still override it.
	hostname, err := cloudinit.HostnamePart(s.scope.Hostname())
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", services.ErrTerminal, err)
	}
	parts := []cloudinit.Part{hostname}
	if extra := s.scope.VPSieMachine.Spec.AdditionalCloudInit; extra != "" {
		parts = append(parts, cloudinit.Part{Name: "additional-cloud-init", Content: []byte(extra)})
	}
	keyIDs := s.scope.SSHKeyIdentifiers()
	keysPart := 0
	if len(keyIDs) > 1 {
		publicKeys, err := s.publicKeys(ctx, keyIDs)
		if err != nil {
			return nil, "", err
		}
		part, err := cloudinit.SSHKeysPart(publicKeys)
		if err != nil {
			return nil, "", fmt.Errorf("%w: SSH keys %v: %w", services.ErrTerminal, keyIDs, err)
		}
		parts = append(parts, part)
		keysPart = len(part.Content)
	}
	data, err := cloudinit.Build(bootstrap, parts...)
	if err != nil {
		return nil, "", fmt.Errorf("%w: building user data: %w", services.ErrTerminal, err)
	}
	limit := s.scope.UserDataLimit
	if limit == 0 {
		limit = cloudinit.DefaultSizeLimit
	}
	data, compressed, err := cloudinit.Fit(data, limit)
	if err != nil {
		// Nothing is created: a server whose user data VPSie cuts or refuses boots into nothing, with no
		// condition saying why.
		return nil, "", fmt.Errorf("%w (bootstrap data %d bytes, additionalCloudInit %d, SSH keys part %d, before "+
			"encoding); shorten additionalCloudInit or use fewer SSH keys, or raise --max-user-data-bytes if VPSie "+
			"is known to accept more", err, len(bootstrap), len(s.scope.VPSieMachine.Spec.AdditionalCloudInit), keysPart)
	}
	if compressed {
		ctrl.LoggerFrom(ctx).V(2).Info("User data is over the limit as built; sending it gzip-compressed",
			"bytes", len(data), "limit", limit)
	}
	first := ""
	if len(keyIDs) > 0 {
		first = keyIDs[0]
	}
	return data, first, nil
}

// publicKeys resolves SSH key identifiers (or names) to public key texts from the account.
func (s *Service) publicKeys(ctx context.Context, ids []string) ([]string, error) {
	keys, err := s.scope.Account.API.ListSSHKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing SSH keys: %w", err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		found := false
		for _, k := range keys {
			if string(k.Identifier) == id || string(k.Name) == id {
				out = append(out, string(k.PublicKey))
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: SSH key %q does not exist in the VPSie account", services.ErrTerminal, id)
		}
	}
	return out, nil
}

// observe records what the server's state means for the machine.
func (s *Service) observe(vm *vpsie.VM) Result {
	m := s.scope.VPSieMachine
	s.scope.SetServer(string(vm.Identifier))
	m.Status.FailureDomain = s.failureDomain(vm)
	switch {
	case vm.IsGone():
		return s.notFound(string(vm.Identifier))
	case vm.IsUp():
		s.scope.SetServerState(infrav1.ServerStateRunning)
		m.Status.Addresses = addresses(vm, m.Status.Hostname)
		conditions.Set(m, metav1.Condition{
			Type: infrav1.ServerReadyCondition, Status: metav1.ConditionTrue, Reason: infrav1.ProvisionedReason,
			Message: "server " + string(vm.Identifier) + " is running at " + vm.PublicIPv4(),
		})
		return Result{Server: vm, RequeueAfter: s.timing.Running}
	case vm.Power == 0 && vm.IsSuspended != 1 && vm.IsLocked != 1 && vm.PublicIPv4() == "" && vm.PrivateIP == "" && !wasUp(m.Status.ServerState):
		// VPSie may list a new server before it powers on and gets its addresses: that is booting, not a stop.
		return s.booting(vm)
	case vm.Power == 0 || vm.IsSuspended == 1 || vm.IsLocked == 1:
		s.scope.SetServerState(infrav1.ServerStateStopped)
		m.Status.Addresses = addresses(vm, m.Status.Hostname)
		conditions.Set(m, metav1.Condition{
			Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.ServerStoppedReason,
			Message: fmt.Sprintf("server %s is powered off, suspended or locked (power=%d suspended=%d locked=%d); the provider does not start it",
				vm.Identifier, vm.Power, vm.IsSuspended, vm.IsLocked),
		})
		return Result{RequeueAfter: s.timing.Poll}
	default:
		return s.booting(vm)
	}
}

func (s *Service) booting(vm *vpsie.VM) Result {
	s.scope.SetServerState(infrav1.ServerStateBooting)
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.BootingReason,
		Message: "server " + string(vm.Identifier) + " is booting",
	})
	return Result{RequeueAfter: s.nextLook()}
}

// wasUp tells whether the machine's server was seen up (or stopped after being up) before.
func wasUp(state infrav1.ServerState) bool {
	return state == infrav1.ServerStateRunning || state == infrav1.ServerStateStopped
}

func (s *Service) failureDomain(vm *vpsie.VM) string {
	if dc := string(vm.DatacenterIdentifier); dc != "" {
		return dc
	}
	return s.scope.Datacenter()
}

// confirmMissing double-checks with a GET that a server absent from the list is really gone: a list can be
// paged or lag behind.
func (s *Service) confirmMissing(ctx context.Context, id string) (Result, error) {
	details, err := s.scope.Account.API.GetVM(ctx, id)
	switch {
	case vpsie.IsNotFound(err):
		return s.notFound(id), nil
	case err != nil:
		return Result{}, fmt.Errorf("reading server %s: %w", id, err)
	}
	return s.observe(&details.VM), nil
}

// notFound reports a server that is gone. The machine is not recreated in place: its Machine is failed
// infrastructure, and a MachineHealthCheck replaces it.
func (s *Service) notFound(id string) Result {
	s.scope.SetServerState(infrav1.ServerStateNotFound)
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.ServerNotFoundReason,
		Message: "server " + id + " no longer exists in VPSie; delete the Machine (a MachineHealthCheck does) to replace it",
	})
	return Result{RequeueAfter: services.TerminalRequeue}
}

func (s *Service) pending(message string) Result {
	conditions.Set(s.scope.VPSieMachine, metav1.Condition{
		Type: infrav1.ServerReadyCondition, Status: metav1.ConditionFalse, Reason: infrav1.PendingReason, Message: message,
	})
	return Result{RequeueAfter: s.nextLook()}
}

// nextLook is when a machine waiting for its server looks again: when the next shared list is due, at most a
// poll interval.
func (s *Service) nextLook() time.Duration {
	return s.observer.UntilRefresh(s.scope.Account, s.timing.Poll)
}

// waitForAccepted reports a server VPSie accepted and does not show yet. The message names the time of the
// create, never an elapsed time: a message that changed at every poll would rewrite the object each time.
func (s *Service) waitForAccepted(since time.Time) Result {
	m := s.scope.VPSieMachine
	if !since.IsZero() && time.Since(since) > s.timing.PendingTooLong {
		return s.pending(fmt.Sprintf("VPSie accepted the server %s at %s but lists it neither as pending nor as created; "+
			"the provider does not create it again, to never create two. Check the VPSie console; deleting the Machine replaces it",
			m.Status.Hostname, since.UTC().Format(time.RFC3339)))
	}
	return s.pending("VPSie accepted the server " + m.Status.Hostname + "; waiting for it to be listed")
}

func addresses(vm *vpsie.VM, hostname string) []clusterv1.MachineAddress {
	var out []clusterv1.MachineAddress
	if hostname != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineHostName, Address: hostname})
	}
	if ip := vm.PublicIPv4(); ip != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineExternalIP, Address: ip})
	}
	if ip := string(vm.DefaultIPv6); ip != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineExternalIP, Address: ip})
	}
	if ip := string(vm.PrivateIP); ip != "" {
		out = append(out, clusterv1.MachineAddress{Type: clusterv1.MachineInternalIP, Address: ip})
	}
	return out
}
