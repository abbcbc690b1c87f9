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
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// Keys of the credentials Secret a VPSieCluster references.
const (
	SecretKeyAPIKey          = "apiKey"
	SecretKeyClientID        = "clientId"
	SecretKeyClientSecret    = "clientSecret"
	SecretKeyAccountPassword = "accountPassword"
)

// ErrCredentialsNotFound means the credentials Secret does not exist.
var ErrCredentialsNotFound = errors.New("credentials secret not found")

// ErrCredentialsInvalid means the credentials Secret lacks what the provider needs.
var ErrCredentialsInvalid = errors.New("credentials secret is invalid")

// Credentials are what the provider reads from a credentials Secret.
type Credentials struct {
	APIKey          string
	ClientID        string
	ClientSecret    string
	AccountPassword string
}

// CredentialsFromSecret validates a credentials Secret. The messages say which key to add: they end up in the
// VPSieCluster's CredentialsReady condition.
func CredentialsFromSecret(s *corev1.Secret) (Credentials, error) {
	get := func(k string) string { return strings.TrimSpace(string(s.Data[k])) }
	c := Credentials{
		APIKey:          get(SecretKeyAPIKey),
		ClientID:        get(SecretKeyClientID),
		ClientSecret:    get(SecretKeyClientSecret),
		AccountPassword: string(s.Data[SecretKeyAccountPassword]),
	}
	var problems []string
	switch {
	case c.APIKey != "":
	case c.ClientID != "" && c.ClientSecret != "":
	case c.ClientID != "" || c.ClientSecret != "":
		problems = append(problems, "clientId and clientSecret must be given together")
	default:
		problems = append(problems, "set apiKey, or clientId and clientSecret")
	}
	if c.AccountPassword == "" {
		problems = append(problems, "set accountPassword: VPSie requires the account password to delete servers, "+
			"and the provider creates nothing it could not delete")
	}
	if len(problems) > 0 {
		return Credentials{}, fmt.Errorf("%w: Secret %s/%s: %s", ErrCredentialsInvalid, s.Namespace, s.Name, strings.Join(problems, "; "))
	}
	return c, nil
}

// ReadCredentials fetches and validates the Secret key names.
func ReadCredentials(ctx context.Context, c client.Reader, key types.NamespacedName) (*corev1.Secret, Credentials, error) {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, Credentials{}, fmt.Errorf("%w: Secret %s does not exist in namespace %s", ErrCredentialsNotFound, key.Name, key.Namespace)
		}
		return nil, Credentials{}, fmt.Errorf("reading credentials Secret %s: %w", key, err)
	}
	creds, err := CredentialsFromSecret(secret)
	return secret, creds, err
}

// identity is a stable, non-reversible key for the credentials' account.
func (c Credentials) identity() string {
	h := sha256.Sum256([]byte(c.APIKey + "\x00" + c.ClientID + "\x00" + c.ClientSecret))
	return hex.EncodeToString(h[:16])
}

// Account is a VPSie API client for one set of credentials.
type Account struct {
	// API makes the calls.
	API vpsie.API
	// Key identifies the account (a hash of its credentials) for caches shared between objects that use
	// the same credentials, such as the batch VM observer.
	Key string
	// Password is VPSie's account password, required to delete servers.
	Password string
}

// AccountFactory gives the Account for a credentials Secret.
type AccountFactory interface {
	Account(secret types.NamespacedName, creds Credentials) (*Account, error)
}

// ClientCache builds one vpsie.Client per credentials and keeps it, so access tokens are reused across
// reconciles. When a Secret's content changes (credentials rotated), the next call builds a new client and
// forgets the old one: rotation takes effect without a restart.
type ClientCache struct {
	// Config is the template of every client; its credential fields are ignored.
	Config vpsie.Config

	mu       sync.Mutex
	bySecret map[types.NamespacedName]cachedAccount
}

type cachedAccount struct {
	fingerprint string
	account     *Account
}

var _ AccountFactory = (*ClientCache)(nil)

// Account returns the cached client for the Secret, or builds one when the Secret's credentials changed.
func (c *ClientCache) Account(secret types.NamespacedName, creds Credentials) (*Account, error) {
	key := creds.identity()
	// The password is part of the fingerprint (hashed) so that a rotated password is picked up too.
	sum := sha256.Sum256([]byte(key + "\x00" + creds.AccountPassword))
	fingerprint := hex.EncodeToString(sum[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.bySecret[secret]; ok && cached.fingerprint == fingerprint {
		return cached.account, nil
	}
	cfg := c.Config
	cfg.Token, cfg.ClientID, cfg.ClientSecret = creds.APIKey, creds.ClientID, creds.ClientSecret
	api, err := vpsie.New(cfg)
	if err != nil {
		return nil, err
	}
	account := &Account{API: api, Key: key, Password: creds.AccountPassword}
	if c.bySecret == nil {
		c.bySecret = map[types.NamespacedName]cachedAccount{}
	}
	c.bySecret[secret] = cachedAccount{fingerprint: fingerprint, account: account}
	return account, nil
}

// Forget drops the client of a Secret, e.g. when its last VPSieCluster is deleted.
func (c *ClientCache) Forget(secret types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.bySecret, secret)
}

// ManagerClientOptions are the manager's client options: Secrets are read straight from the API server, one
// by name, and never cached. A cache would hold every Secret of the management cluster in this process and
// need the right to list and watch them all; what the provider reads is the credentials Secret of each
// VPSieCluster, the bootstrap data Secret of each Machine (once, at create) and each workload cluster's
// kubeconfig Secret (once per connection), as Cluster API's own manager reads bootstrap data. Tests start
// their managers with the same options.
func ManagerClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}
