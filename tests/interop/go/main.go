// Command sigverify verifies a Sigstore bundle offline with sigstore-go, against a trusted
// root that names the transparency log (and, for certificates, the CA and CT log).
//
//	sigverify --trusted-root TR.json --bundle B.json --artifact FILE \
//	    (--key PUB.pem | --certificate-identity ID --certificate-oidc-issuer ISS) \
//	    [--require-sct=false]
//
// --artifact-digest sha256:HEX may stand in for --artifact (for bundles whose artifact is
// not at hand). On success it prints one line starting with "OK" that names the verified
// log index(es) and exits 0; on failure it prints "FAIL: <reason>" to stderr and exits 1.
// Usage errors exit 2.
package main

import (
	"crypto"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

type options struct {
	trustedRoot     string
	bundle          string
	artifact        string
	artifactDigest  string
	key             string
	identity        string
	issuer          string
	requireSCT      bool
	signedTimestamp bool
}

func main() {
	var o options
	fs := flag.NewFlagSet("sigverify", flag.ContinueOnError)
	fs.StringVar(&o.trustedRoot, "trusted-root", "", "trusted_root.json (Sigstore TrustedRoot, JSON)")
	fs.StringVar(&o.bundle, "bundle", "", "the Sigstore bundle (JSON)")
	fs.StringVar(&o.artifact, "artifact", "", "the signed artifact")
	fs.StringVar(&o.artifactDigest, "artifact-digest", "", "sha256:HEX of the artifact, instead of --artifact")
	fs.StringVar(&o.key, "key", "", "PEM public key the bundle was signed with")
	fs.StringVar(&o.identity, "certificate-identity", "", "expected certificate SAN")
	fs.StringVar(&o.issuer, "certificate-oidc-issuer", "", "expected OIDC issuer extension")
	fs.BoolVar(&o.requireSCT, "require-sct", true, "require an embedded SCT from a CT log of the trusted root")
	fs.BoolVar(&o.signedTimestamp, "signed-timestamp", false,
		"require an RFC 3161 timestamp from a TSA of the trusted root instead of a log's integrated time (Rekor v2 entries have none)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(os.Stderr, "usage: %v\n", err)
		os.Exit(2)
	}
	line, err := run(o)
	if err != nil {
		// One line: some of sigstore-go's errors (an inclusion proof's roots) span several.
		fmt.Fprintf(os.Stderr, "FAIL: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
	fmt.Println(line)
}

func (o options) check() error {
	switch {
	case o.trustedRoot == "" || o.bundle == "":
		return errors.New("--trusted-root and --bundle are required")
	case (o.artifact == "") == (o.artifactDigest == ""):
		return errors.New("give one of --artifact and --artifact-digest")
	case o.key != "" && (o.identity != "" || o.issuer != ""):
		return errors.New("--key excludes --certificate-identity/--certificate-oidc-issuer")
	case o.key == "" && (o.identity == "" || o.issuer == ""):
		return errors.New("give --key, or both --certificate-identity and --certificate-oidc-issuer")
	}
	return nil
}

func run(o options) (string, error) {
	trustedRoot, err := root.NewTrustedRootFromPath(o.trustedRoot)
	if err != nil {
		return "", fmt.Errorf("trusted root: %w", err)
	}
	b, err := bundle.LoadJSONFromPath(o.bundle)
	if err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}

	var material root.TrustedMaterial = trustedRoot
	var identityOpt verify.PolicyOption
	if o.key != "" {
		keyMaterial, err := publicKeyMaterial(o.key)
		if err != nil {
			return "", err
		}
		material = root.TrustedMaterialCollection{trustedRoot, keyMaterial}
		identityOpt = verify.WithKey()
	} else {
		id, err := verify.NewShortCertificateIdentity(o.issuer, "", o.identity, "")
		if err != nil {
			return "", fmt.Errorf("identity: %w", err)
		}
		identityOpt = verify.WithCertificateIdentity(id)
	}

	verifierOpts := []verify.VerifierOption{verify.WithTransparencyLog(1)}
	if o.signedTimestamp {
		verifierOpts = append(verifierOpts, verify.WithSignedTimestamps(1))
	} else {
		verifierOpts = append(verifierOpts, verify.WithIntegratedTimestamps(1))
	}
	if o.requireSCT && o.key == "" {
		verifierOpts = append(verifierOpts, verify.WithSignedCertificateTimestamps(1))
	}
	verifier, err := verify.NewVerifier(material, verifierOpts...)
	if err != nil {
		return "", fmt.Errorf("verifier: %w", err)
	}

	artifactOpt, closeArtifact, err := artifactPolicy(o)
	if err != nil {
		return "", err
	}
	defer closeArtifact()

	result, err := verifier.Verify(b, verify.NewPolicy(artifactOpt, identityOpt))
	if err != nil {
		return "", err
	}

	entries, err := b.TlogEntries()
	if err != nil {
		return "", fmt.Errorf("bundle: %w", err)
	}
	indices := make([]string, 0, len(entries))
	for _, e := range entries {
		indices = append(indices, fmt.Sprint(e.LogIndex()))
	}
	line := "OK sigstore-go: log index " + strings.Join(indices, ",")
	for _, ts := range result.VerifiedTimestamps {
		line += fmt.Sprintf(", %s timestamp %s", ts.Type, ts.Timestamp.UTC().Format(time.RFC3339))
	}
	if result.VerifiedIdentity != nil {
		line += fmt.Sprintf(", identity %s (%s)",
			result.VerifiedIdentity.SubjectAlternativeName.SubjectAlternativeName,
			result.VerifiedIdentity.Issuer.Issuer)
	} else {
		line += ", signed by the given key"
	}
	return line, nil
}

// publicKeyMaterial trusts one PEM public key, whatever key hint the bundle carries.
func publicKeyMaterial(path string) (root.TrustedMaterial, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	sv, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return key, nil
	}), nil
}

func artifactPolicy(o options) (verify.ArtifactPolicyOption, func(), error) {
	if o.artifactDigest != "" {
		algo, digestHex, ok := strings.Cut(o.artifactDigest, ":")
		if !ok {
			return nil, nil, errors.New("--artifact-digest: want ALGORITHM:HEX")
		}
		digest, err := hex.DecodeString(digestHex)
		if err != nil {
			return nil, nil, fmt.Errorf("--artifact-digest: %w", err)
		}
		return verify.WithArtifactDigest(algo, digest), func() {}, nil
	}
	f, err := os.Open(o.artifact)
	if err != nil {
		return nil, nil, fmt.Errorf("artifact: %w", err)
	}
	return verify.WithArtifact(f), func() { _ = f.Close() }, nil
}
