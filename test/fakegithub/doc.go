// Package fakegithub is an in-process fake of GitHub for agentline's tests: the REST API (plus
// the GraphQL review-thread operations), real git repositories over smart HTTP, and signed
// webhook deliveries.
//
// Typical use:
//
//	s := fakegithub.New(t)                                   // closed in t.Cleanup
//	s.CreateRepo("acme/shop", fakegithub.RepoOptions{})      // bare repo, initial commit on main
//	tok := s.AddUser("agentline-bot")                        // token for a new user
//	s.SetPermission("acme/shop", "agentline-bot", "write")   // the owner "acme" is admin
//	s.AddIssue("acme/shop", fakegithub.Issue{Number: 7, Title: "Add cart", Labels: []string{"[ai-dev]"}})
//
//	gh := s.Client(tok)                        // go-github/v66, WithEnterpriseURLs(s.URL, s.URL)
//	cloneURL := s.CloneURL("acme/shop")        // http://127.0.0.1:PORT/acme/shop.git
//	// git: basic auth, any user name, password = token (GIT_ASKPASS or http.extraHeader)
//
//	res, err := s.Deliver(ctx, controllerURL, "acme/shop", fakegithub.Webhook{
//		Fixture: "issues.labeled", Secret: secret,
//		Overrides: map[string]any{"issue.number": 7, "label.name": "[ai-dev]", "sender.login": "alice"},
//	})
//
//	s.Comments("acme/shop", 7)  // state, with every revision of each comment
//	s.CallCount("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}")
//
// REST lives under /api/v3/ and answers like GitHub: 401 "Bad credentials" for a missing or
// unknown token (Authorization "token X" or "Bearer X"), 404 "Not Found" for unknown resources
// and for private repositories the caller cannot read, 403 when the caller's role is too low,
// 422 "Validation Failed" for invalid creates (duplicate pull request for a head, missing branch,
// unknown commit), Link headers on lists (per_page up to 100). Pushes are visible at once through
// the refs, branches and pulls APIs; merging a pull request writes a real merge (or squash)
// commit into the bare repository. The fake does not close issues named by "Closes #N" on merge
// and does not send webhooks by itself: tests deliver the events they want.
package fakegithub
