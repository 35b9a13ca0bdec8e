package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// ReviewThread is a pull request review thread: the review comments on one place of the diff in
// the order they were written, and whether the thread is resolved. The REST API knows the
// comments; only the GraphQL API knows threads' ids and resolved state, so ReviewThreads asks both.
type ReviewThread struct {
	// ID is the thread's GraphQL node id (what resolveReviewThread takes); "" when GraphQL did
	// not report the thread.
	ID       string
	Path     string
	Line     int
	Resolved bool
	Outdated bool
	Comments []*ReviewComment
}

// ReviewThreads returns the review threads of pull request number: every review comment (REST,
// paged) grouped by the comment that started its thread, with the resolved state and node id of
// each thread (GraphQL, paged). Threads are ordered by their first comment.
func (c *Client) ReviewThreads(ctx context.Context, repo Repo, number int) ([]*ReviewThread, error) {
	comments, err := c.ListReviewComments(ctx, repo, number)
	if err != nil {
		return nil, err
	}
	byRoot := map[int64]*ReviewThread{}
	var order []int64
	for _, rc := range comments {
		root := rc.ID
		if rc.InReplyTo != 0 {
			root = rc.InReplyTo
		}
		t := byRoot[root]
		if t == nil {
			t = &ReviewThread{}
			byRoot[root] = t
			order = append(order, root)
		}
		if rc.ID == root || t.Path == "" {
			t.Path, t.Line = rc.Path, rc.Line
		}
		t.Comments = append(t.Comments, rc)
	}
	if len(order) == 0 {
		return nil, nil
	}
	states, err := c.reviewThreadStates(ctx, repo, number)
	if err != nil {
		return nil, err
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	out := make([]*ReviewThread, 0, len(order))
	for _, root := range order {
		t := byRoot[root]
		sort.SliceStable(t.Comments, func(i, j int) bool { return t.Comments[i].CreatedAt.Before(t.Comments[j].CreatedAt) })
		if st, ok := states[root]; ok {
			t.ID, t.Resolved, t.Outdated = st.ID, st.IsResolved, st.IsOutdated
			if st.Line > 0 {
				t.Line = st.Line
			}
		}
		out = append(out, t)
	}
	return out, nil
}

type threadState struct {
	ID         string `json:"id"`
	IsResolved bool   `json:"isResolved"`
	IsOutdated bool   `json:"isOutdated"`
	Line       int    `json:"line"`
	Comments   struct {
		Nodes []struct {
			DatabaseID int64 `json:"databaseId"`
		} `json:"nodes"`
	} `json:"comments"`
}

const reviewThreadsQuery = `query($owner: String!, $name: String!, $number: Int!, $cursor: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved isOutdated line comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}`

// reviewThreadStates maps the database id of each thread's first comment to the thread's state.
func (c *Client) reviewThreadStates(ctx context.Context, repo Repo, number int) (map[int64]threadState, error) {
	out := map[int64]threadState{}
	var cursor *string
	for page := 1; ; page++ {
		var resp struct {
			Data struct {
				Repository *struct {
					PullRequest *struct {
						ReviewThreads struct {
							PageInfo struct {
								HasNextPage bool   `json:"hasNextPage"`
								EndCursor   string `json:"endCursor"`
							} `json:"pageInfo"`
							Nodes []threadState `json:"nodes"`
						} `json:"reviewThreads"`
					} `json:"pullRequest"`
				} `json:"repository"`
			} `json:"data"`
			Errors []struct {
				Message string `json:"message"`
			} `json:"errors"`
		}
		vars := map[string]any{"owner": repo.Owner, "name": repo.Name, "number": number, "cursor": cursor}
		if err := c.graphQL(ctx, reviewThreadsQuery, vars, &resp); err != nil {
			return nil, fmt.Errorf("github: review threads of %s#%d (page %d): %w", repo, number, page, err)
		}
		if len(resp.Errors) > 0 {
			msgs := make([]string, len(resp.Errors))
			for i, e := range resp.Errors {
				msgs[i] = e.Message
			}
			return nil, fmt.Errorf("github: review threads of %s#%d: %s", repo, number, strings.Join(msgs, "; "))
		}
		if resp.Data.Repository == nil || resp.Data.Repository.PullRequest == nil {
			return nil, fmt.Errorf("github: review threads of %s#%d: %w", repo, number, ErrNotFound)
		}
		rt := resp.Data.Repository.PullRequest.ReviewThreads
		for _, n := range rt.Nodes {
			if len(n.Comments.Nodes) > 0 {
				out[n.Comments.Nodes[0].DatabaseID] = n
			}
		}
		if !rt.PageInfo.HasNextPage || rt.PageInfo.EndCursor == "" {
			return out, nil
		}
		end := rt.PageInfo.EndCursor
		cursor = &end
	}
}

// GraphQLURL is the GraphQL endpoint that belongs to the REST base URL: api.github.com/graphql
// for github.com, https://HOST/api/graphql for GitHub Enterprise (REST at https://HOST/api/v3/).
func (c *Client) GraphQLURL() string {
	base := strings.TrimSuffix(c.baseURL, "/")
	if strings.HasSuffix(base, "/api/v3") {
		return strings.TrimSuffix(base, "/v3") + "/graphql"
	}
	return base + "/graphql"
}

// graphQL posts one query with the client's authenticated HTTP client and decodes the answer.
func (c *Client) graphQL(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.GraphQLURL(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "agentline")
	resp, err := c.gh.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("POST %s: %d %s: %w", c.GraphQLURL(), resp.StatusCode, msg, ErrNotFound)
		}
		return fmt.Errorf("POST %s: %d %s", c.GraphQLURL(), resp.StatusCode, msg)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("POST %s: decode answer: %w", c.GraphQLURL(), err)
	}
	return nil
}
