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
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// DefaultAttachPatience is how long after an attach call VPSie may take to show the server in the VPC before
// the call is sent again.
const DefaultAttachPatience = 2 * time.Minute

// Attacher joins servers to their cluster's VPC. VPSie applies an attach asynchronously and refuses a second
// attach of a server already attached (or being attached), so an attach is sent once and remembered: while
// VPSie does not show the server in the VPC yet, it is waited for, not re-sent, until the patience runs out;
// an "already attached" refusal means done. One Attacher serves a whole controller; the zero value is ready.
type Attacher struct {
	// Patience; DefaultAttachPatience when zero.
	Patience time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	sent map[string]time.Time // account, server, VPC -> when the attach was sent
}

// AttachState is where a server's VPC membership stands.
type AttachState string

const (
	// Attached: the server is in the VPC.
	Attached AttachState = "Attached"
	// Joined: the server is in the VPC, after an attach this Attacher sent (for events).
	Joined AttachState = "Joined"
	// Attaching: an attach was sent (now or moments ago); VPSie does not show it yet.
	Attaching AttachState = "Attaching"
)

func (a *Attacher) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Ensure makes the server vmIdentifier a member of the VPC vpcID. It reads the server's live networks (never a
// cached list): an attach shown there is Attached.
func (a *Attacher) Ensure(ctx context.Context, account *scope.Account, vmIdentifier, vpcID, dcIdentifier string) (AttachState, error) {
	details, err := account.API.GetVM(ctx, vmIdentifier)
	if err != nil {
		return "", fmt.Errorf("reading the networks of server %s: %w", vmIdentifier, err)
	}
	key := account.Key + "\x00" + vmIdentifier + "\x00" + vpcID
	for _, p := range details.PrivateIPs {
		if string(p.VPCID) == vpcID {
			if a.forget(key) {
				return Joined, nil
			}
			return Attached, nil
		}
	}
	if at, ok := a.sentAt(key); ok && a.now().Sub(at) < services.OrDefault(a.Patience, DefaultAttachPatience) {
		return Attaching, nil
	}
	err = account.API.AttachVPC(ctx, vmIdentifier, vpcID, dcIdentifier)
	switch {
	case err == nil:
		a.record(key)
		return Attaching, nil
	case vpsie.IsTerminal(err) && strings.Contains(strings.ToLower(err.Error()), "already"):
		// VPSie knows of the attach (ours, whose answer was lost, or one it still applies): nothing to do.
		a.record(key)
		return Attaching, nil
	case vpsie.IsTransient(err):
		// The attach may have been applied: give it the same patience as an answered one.
		a.record(key)
		return Attaching, nil
	}
	return "", fmt.Errorf("attaching server %s to VPC %s: %w", vmIdentifier, vpcID, err)
}

func (a *Attacher) sentAt(key string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.sent[key]
	return t, ok
}

func (a *Attacher) record(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sent == nil {
		a.sent = map[string]time.Time{}
	}
	a.sent[key] = a.now()
}

func (a *Attacher) forget(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.sent[key]
	delete(a.sent, key)
	return ok
}
