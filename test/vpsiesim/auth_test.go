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

package vpsiesim_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

func TestLoginJSONAnswersSDKShape(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL).anonymous()

	r := a.post("/apps/v2/auth/from/api", map[string]string{"clientId": testClientID, "clientSecret": testSecret})
	g.Expect(r.Status).To(Equal(200), r.String())
	var body struct {
		Error bool `json:"error"`
		Token struct {
			Access  struct{ Token, Expires string } `json:"access"`
			Refresh struct{ Token, Expires string } `json:"refresh"`
		} `json:"token"`
	}
	g.Expect(json.Unmarshal(r.Body, &body)).To(Succeed())
	g.Expect(body.Error).To(BeFalse())
	g.Expect(body.Token.Access.Token).NotTo(BeEmpty())
	g.Expect(body.Token.Refresh.Token).NotTo(BeEmpty())
	exp, err := time.Parse(time.RFC3339, body.Token.Access.Expires)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(exp).To(BeTemporally("~", time.Now().Add(time.Hour), 5*time.Second))
	_, err = time.Parse(time.RFC3339, body.Token.Refresh.Expires)
	g.Expect(err).NotTo(HaveOccurred())

	tok := body.Token.Access.Token
	g.Expect(a.with("Vpsie-Auth", tok).get("/api/v2/vm").ok()).To(BeTrue())
	g.Expect(a.with("Authorization", "Bearer "+tok).get("/apps/v2/vm").ok()).To(BeTrue())
	// The refresh token is not an access token.
	g.Expect(a.with("Vpsie-Auth", body.Token.Refresh.Token).get("/api/v2/vm").Status).To(Equal(401))
	g.Expect(srv.IssuedTokens()).To(Equal(1))
}

func TestLoginFormAnswersAutoscalerShape(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL).anonymous()

	r := a.post("/apps/v2/auth/from/api", url.Values{"clientId": {testClientID}, "clientSecret": {testSecret}})
	g.Expect(r.Status).To(Equal(200), r.String())
	var body map[string]map[string]string
	g.Expect(json.Unmarshal(r.Body, &body)).To(Succeed())
	g.Expect(body).To(HaveKey("accessToken"))
	g.Expect(body).To(HaveKey("refreshToken"))
	g.Expect(body).NotTo(HaveKey("token"))
	_, err := time.Parse(time.RFC3339, body["accessToken"]["expires"])
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a.with("Authorization", "Bearer "+body["accessToken"]["token"]).get("/api/v2/vm").ok()).To(BeTrue())
}

func TestLoginRejectsBadCredentials(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL).anonymous()

	r := a.post("/apps/v2/auth/from/api", map[string]string{"clientId": testClientID, "clientSecret": "wrong"})
	g.Expect(r.errorWith(401, "Invalid clientId or clientSecret")).To(BeTrue(), r.String())
	r = a.post("/apps/v2/auth/from/api", url.Values{"clientId": {"nobody"}, "clientSecret": {testSecret}})
	g.Expect(r.errorWith(401, "Invalid clientId")).To(BeTrue(), r.String())
	r = a.post("/apps/v2/auth/from/api", map[string]string{"clientId": testClientID})
	g.Expect(r.errorWith(400, "required")).To(BeTrue(), r.String())
	r = a.post("/apps/v2/auth/from/api", "{not json")
	g.Expect(r.errorWith(400, "Invalid request body")).To(BeTrue(), r.String())
	g.Expect(srv.IssuedTokens()).To(BeZero())
}

func TestUnauthenticatedRequestsGet401(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)

	for _, r := range []resp{
		a.anonymous().get("/api/v2/vm"),
		a.with("Vpsie-Auth", "wrong").get("/apps/v2/datacenter"),
		a.anonymous().with("Authorization", "Bearer "+testToken).get("/api/v2/vm"), // static tokens are not Bearer tokens
		a.anonymous().post("/api/v1/lb/create", map[string]any{}),
	} {
		g.Expect(r.Status).To(Equal(401))
		g.Expect(r.Body).To(MatchJSON(`{"error":true,"message":"Please authenticate"}`))
	}
	g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue())
}

func TestIssuedTokensExpire(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, func(o *vpsiesim.Options) { o.TokenLifetime = time.Second })
	a := newAPI(t, srv.URL).anonymous()
	tok := login(t, a)
	authed := a.with("Vpsie-Auth", tok)
	g.Expect(authed.get("/api/v2/vm").ok()).To(BeTrue())
	g.Eventually(func() int { return authed.get("/api/v2/vm").Status }, 10*time.Second, 50*time.Millisecond).Should(Equal(401))
	// Logging in again works.
	g.Expect(a.with("Vpsie-Auth", login(t, a)).get("/api/v2/vm").ok()).To(BeTrue())
}

func TestRevokeAndForceExpireTokens(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)

	tok := login(t, a.anonymous())
	srv.RevokeTokens()
	g.Expect(a.anonymous().with("Vpsie-Auth", tok).get("/api/v2/vm").Status).To(Equal(401))
	g.Expect(a.get("/api/v2/vm").ok()).To(BeTrue(), "static tokens survive revocation")

	tok = login(t, a.anonymous())
	g.Expect(a.anonymous().with("Vpsie-Auth", tok).get("/api/v2/vm").ok()).To(BeTrue())
	g.Expect(a.anonymous().post("/_sim/tokens/expire", nil).Status).To(Equal(200))
	g.Expect(a.anonymous().with("Vpsie-Auth", tok).get("/api/v2/vm").Status).To(Equal(401))

	// The one-shot fault does the same.
	tok = login(t, a.anonymous())
	srv.SetFaults(vpsiesim.Faults{RevokeTokens: true})
	g.Expect(srv.Faults().RevokeTokens).To(BeFalse())
	g.Expect(a.anonymous().with("Authorization", "Bearer "+tok).get("/api/v2/vm").Status).To(Equal(401))
}

func TestSetCredentialsRotates(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL)
	srv.SetCredentials(vpsiesim.Credentials{Tokens: []string{"new-token"}, AccountPassword: "new-password"})
	g.Expect(a.get("/api/v2/vm").Status).To(Equal(401))
	g.Expect(a.with("Vpsie-Auth", "new-token").get("/api/v2/vm").ok()).To(BeTrue())
	r := a.anonymous().post("/apps/v2/auth/from/api", map[string]string{"clientId": testClientID, "clientSecret": testSecret})
	g.Expect(r.Status).To(Equal(401), "login disabled once the client id is removed")
}

func login(t *testing.T, a *api) string {
	t.Helper()
	r := a.post("/apps/v2/auth/from/api", map[string]string{"clientId": testClientID, "clientSecret": testSecret})
	var body struct {
		Token struct {
			Access struct{ Token string } `json:"access"`
		} `json:"token"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Token.Access.Token == "" {
		t.Fatalf("login failed: %d %s", r.Status, r.Body)
	}
	return body.Token.Access.Token
}

func TestTokensIssuedListsEveryToken(t *testing.T) {
	g := NewWithT(t)
	srv := newSim(t, nil)
	a := newAPI(t, srv.URL).anonymous()
	g.Expect(srv.TokensIssued()).To(BeEmpty())
	first := login(t, a)
	srv.ExpireTokens()
	second := login(t, a)
	srv.RevokeTokens()
	issued := srv.TokensIssued()
	g.Expect(issued).To(HaveLen(4), "an access and a refresh token per login, expired and revoked ones included")
	g.Expect(issued[0]).To(Equal(first))
	g.Expect(issued[2]).To(Equal(second))
	g.Expect(srv.IssuedTokens()).To(BeZero(), "none is valid any more")
}
