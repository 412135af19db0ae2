using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tributary.Testing;

namespace Tributary.Server.Tests.Auth;

public sealed class TestAuthorizationServerTests
{
    private const string Resource = "http://127.0.0.1:5000/mcp";

    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = false });

    /// <summary>Validates <paramref name="token"/> as a resource server would: signature against the published key set, issuer, audience, lifetime, type.</summary>
    private static async Task<JsonWebToken> ValidateAsync(TestAuthorizationServer server, string token, string audience = Resource)
    {
        var keySet = new JsonWebKeySet(await Http.GetStringAsync(server.JwksUri));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = server.Issuer.AbsoluteUri,
            ValidAudience = audience,
            IssuerSigningKeys = keySet.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
        });
        Assert.True(result.IsValid, result.Exception?.ToString());
        return (JsonWebToken)result.SecurityToken;
    }

    private static async Task<(HttpStatusCode Status, string? Error)> RefusalAsync(Task<HttpResponseMessage> sending)
    {
        using var response = await sending;
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Discovery_documents_name_the_issuer_and_the_key_set()
    {
        await using var server = await TestAuthorizationServer.StartAsync();

        foreach (var path in new[] { ".well-known/openid-configuration", ".well-known/oauth-authorization-server" })
        {
            var document = await Http.GetFromJsonAsync<JsonElement>(new Uri(server.Issuer, path));
            Assert.Equal(server.Issuer.AbsoluteUri, document.GetProperty("issuer").GetString());
            Assert.Equal(server.JwksUri.AbsoluteUri, document.GetProperty("jwks_uri").GetString());
            Assert.Equal(server.TokenEndpoint.AbsoluteUri, document.GetProperty("token_endpoint").GetString());
            Assert.Equal(server.AuthorizationEndpoint.AbsoluteUri, document.GetProperty("authorization_endpoint").GetString());
            Assert.Equal(["S256"], document.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(m => m.GetString()));
            Assert.Contains("client_credentials", document.GetProperty("grant_types_supported").EnumerateArray().Select(g => g.GetString()));
        }

        var keys = await Http.GetFromJsonAsync<JsonElement>(server.JwksUri);
        Assert.Equal(server.SigningKeyId, Assert.Single(keys.GetProperty("keys").EnumerateArray()).GetProperty("kid").GetString());
    }

    [Fact]
    public async Task A_client_credentials_token_is_a_signed_jwt_for_the_requested_resource_and_scopes()
    {
        await using var server = await TestAuthorizationServer.StartAsync();

        var token = await server.ClientCredentialsTokenAsync(Resource, "sources:shop:read", "topics:orders:publish");

        var jwt = await ValidateAsync(server, token);
        Assert.Equal("RS256", jwt.Alg);
        Assert.Equal(server.SigningKeyId, jwt.Kid);
        Assert.Equal(server.Issuer.AbsoluteUri, jwt.Issuer);
        Assert.Equal([Resource], jwt.Audiences);
        Assert.Equal("sources:shop:read topics:orders:publish", jwt.GetClaim("scope").Value);
        Assert.Equal(server.ConfidentialClient.Id, jwt.GetClaim("client_id").Value);
        Assert.Equal(server.ConfidentialClient.Id, jwt.Subject);
        Assert.NotEqual(default, jwt.IssuedAt);
        Assert.True(jwt.ValidTo > jwt.IssuedAt);
    }

    [Fact]
    public async Task The_authorization_code_flow_with_pkce_carries_the_user_and_extra_claims()
    {
        await using var server = await TestAuthorizationServer.StartAsync();

        var token = await server.AuthorizationCodeTokenAsync(Resource, "alice", new Dictionary<string, string> { ["customer_id"] = "3" }, "tools:user_orders");

        var jwt = await ValidateAsync(server, token);
        Assert.Equal("alice", jwt.Subject);
        Assert.Equal("3", jwt.GetClaim("customer_id").Value);
        Assert.Equal("tools:user_orders", jwt.GetClaim("scope").Value);
        Assert.Equal(server.PublicClient.Id, jwt.GetClaim("client_id").Value);
        Assert.Equal([Resource], jwt.Audiences);
    }

    [Fact]
    public async Task A_wrong_client_secret_is_refused()
    {
        await using var server = await TestAuthorizationServer.StartAsync();

        var (status, error) = await RefusalAsync(server.SendTokenRequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = server.ConfidentialClient.Id,
            ["client_secret"] = "not-the-secret",
            ["resource"] = Resource,
            ["scope"] = "audit:read",
        }));

        Assert.Contains(status, new[] { HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized });
        Assert.Equal("invalid_client", error);
    }

    [Fact]
    public async Task A_code_verifier_that_does_not_match_the_challenge_is_refused()
    {
        await using var server = await TestAuthorizationServer.StartAsync();
        var client = server.PublicClient;
        var (_, challenge) = TestAuthorizationServer.CreateProofKey();
        var (otherVerifier, _) = TestAuthorizationServer.CreateProofKey();
        var code = await server.AuthorizeAsync(AuthorizationRequest(server, challenge), "alice");

        var (status, error) = await RefusalAsync(server.SendTokenRequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = client.Id,
            ["code"] = code,
            ["redirect_uri"] = client.RedirectUri!.AbsoluteUri,
            ["code_verifier"] = otherVerifier,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_grant", error);
    }

    [Fact]
    public async Task An_authorization_request_without_a_code_challenge_is_refused()
    {
        await using var server = await TestAuthorizationServer.StartAsync();

        var refusal = await Assert.ThrowsAsync<InvalidOperationException>(() => server.AuthorizeAsync(AuthorizationRequest(server, challenge: null)));

        Assert.Contains("invalid_request", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_request_for_a_resource_not_granted_at_authorization_is_refused()
    {
        await using var server = await TestAuthorizationServer.StartAsync();
        var client = server.PublicClient;
        var (verifier, challenge) = TestAuthorizationServer.CreateProofKey();
        var code = await server.AuthorizeAsync(AuthorizationRequest(server, challenge));

        var (status, error) = await RefusalAsync(server.SendTokenRequestAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = client.Id,
            ["code"] = code,
            ["redirect_uri"] = client.RedirectUri!.AbsoluteUri,
            ["code_verifier"] = verifier,
            ["resource"] = "http://127.0.0.1:5001/other",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_target", error);
    }

    [Fact]
    public async Task After_rotation_new_tokens_carry_a_new_published_key_id_and_old_tokens_still_validate()
    {
        await using var server = await TestAuthorizationServer.StartAsync();
        var before = await server.ClientCredentialsTokenAsync(Resource, "audit:read");

        await server.RotateSigningKeyAsync();
        var after = await server.ClientCredentialsTokenAsync(Resource, "audit:read");

        var oldKid = (await ValidateAsync(server, before)).Kid;
        var newKid = (await ValidateAsync(server, after)).Kid;
        Assert.NotEqual(oldKid, newKid);
        Assert.Equal(server.SigningKeyId, newKid);
        var keys = await Http.GetFromJsonAsync<JsonElement>(server.JwksUri);
        Assert.Equal(new[] { oldKid, newKid }.Order(), keys.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!).Order());
    }

    [Fact]
    public async Task The_access_token_lifetime_is_configurable()
    {
        await using var server = await TestAuthorizationServer.StartAsync(new TestAuthorizationServerOptions { AccessTokenLifetime = TimeSpan.FromSeconds(5) });

        var jwt = await ValidateAsync(server, await server.ClientCredentialsTokenAsync(Resource, "audit:read"));

        Assert.Equal(TimeSpan.FromSeconds(5), jwt.ValidTo - jwt.IssuedAt);
    }

    private static Uri AuthorizationRequest(TestAuthorizationServer server, string? challenge)
    {
        var client = server.PublicClient;
        var parameters = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = client.Id,
            ["redirect_uri"] = client.RedirectUri!.AbsoluteUri,
            ["scope"] = "tools:user_orders",
            ["resource"] = Resource,
        };
        if (challenge is not null)
        {
            parameters["code_challenge"] = challenge;
            parameters["code_challenge_method"] = "S256";
        }

        return new Uri(QueryHelpers.AddQueryString(server.AuthorizationEndpoint.AbsoluteUri, parameters));
    }
}
