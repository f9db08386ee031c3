// Package sourcepolicy checks that rules_repro's source policy engine
// (tools/policy) decides exactly what BuildKit's own engine decides. It is a
// separate module so that the main module does not depend on BuildKit.
//
//	cd e2e/sourcepolicy && go test ./...
//
// The tests generate policies, policy files and image references from a
// fixed seed and compare, case by case:
//
//   - evaluation: tools/policy.Evaluate against sourcepolicy.Engine.Evaluate
//     (same final identifier and attributes, same denial, same errors,
//     including the 20-conversion limit);
//   - parsing: tools/policy.Parse and MarshalJSON against the
//     encoding/json decoding of sourcepolicy/pb.Policy that
//     `buildctl build --source-policy-file` does, followed by the checks
//     the solver makes before it builds (validateSourcePolicy);
//   - normalization: tools/policy.NormalizeImageIdentifier against
//     distribution's ParseNormalizedNamed + TagNameOnly, which llb.Image
//     applies to image references.
//
// Known differences, each by design and each counted by the tests:
//
//   - tools/policy rejects what encoding/json lets through: unknown fields
//     (BuildKit ignores them), field names in another case ("Action";
//     encoding/json matches case-insensitively), repeated fields
//     (encoding/json keeps the last, merging repeated objects) and a file
//     that is just "null" (an empty policy to BuildKit).
//   - tools/policy rejects null rules, rules without a selector and null
//     constraints when parsing; buildctl accepts them and the solver rejects
//     them when the build starts (the engine itself would panic on a
//     missing selector).
//   - tools/policy stops with ErrIdentifierTooLong when a conversion makes
//     an identifier longer than 64 KiB (policy.MaxIdentifierLength).
//     BuildKit has no bound: a REGEX selector that matches the empty string
//     (such as "" or "b*") inserts its destination between every two
//     characters, multiplying the identifier's length at each of up to 21
//     conversions, so BuildKit builds identifiers of gigabytes and more
//     before it stops with "too many mutations", or runs out of memory.
//     Such cases are counted and not run through BuildKit.
//   - tools/policy refuses a WILDCARD selector with more than 32 "*"
//     (policy.MaxWildcards), when parsing and when evaluating; BuildKit
//     accepts it and takes seconds to minutes per source (its regexp of one
//     group per "*" costs groups × pattern × identifier). Below the limit,
//     TestWildcardsMatchBuildKit compares selectors of up to 32 "*" on
//     identifiers with newlines and invalid UTF-8, captures included.
//   - NormalizeImageIdentifier returns an error for invalid references;
//     llb.Image leaves them as they are (and the build fails later).
package sourcepolicy
