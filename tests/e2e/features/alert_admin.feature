Feature: Managing alert rules and notification channels in the dashboard
  Admins create, edit and delete alert rules and notification channels on the Alerts page; viewers
  only look. Rules owned by a Kubernetes AlertRule stay read-only, and channel secrets are never shown.

  Scenario: An admin creates an alert rule and a webhook channel in the dashboard
    Given the admin of "acme" is signed in
    When the admin adds the webhook channel "ops-hook" for "https://hooks.example.org/acme" with the secret "s3cret-hmac-key"
    And the admin creates the rule "disk-full" on "disk.used_percent" where "mount=/" with max over "5m" > 90 for "2m" notifying "ops-hook" labelled "team=storage"
    Then the api lists the webhook channel "ops-hook" of "acme" for "https://hooks.example.org/acme" with a secret
    And the secret of the channel "ops-hook" of "acme" is "s3cret-hmac-key" and the page never shows it
    And the api lists the rule "disk-full" of "acme" as entered, labelled "team=storage" and notifying only "ops-hook"

  Scenario: An admin edits and deletes a rule
    Given the tenant "acme" has the alert rule "cpu-high"
    And the admin of "acme" is signed in
    When the admin changes the rule "cpu-high" to a threshold of 75 over "10m" with a recovery threshold of 70
    Then the api lists the rule "cpu-high" of "acme" with a threshold of 75, a recovery threshold of 70 and a window of 600 seconds
    When the admin deletes the rule "cpu-high"
    Then the api lists no rule "cpu-high" of "acme"

  Scenario: The server's reasons for refusing a rule appear next to the form
    Given the admin of "acme" is signed in
    When the admin tries to create the rule "bad-regex" with the matcher "host=~web-(1"
    Then the rule form shows the server's reason "bad regex in matcher" at the label matchers
    And the api lists no rule "bad-regex" of "acme"

  Scenario: An admin writes a rule in PromQL, and the parser's reason lands on the expression
    Given the admin of "acme" is signed in
    When the admin tries to create the rule "error-rate" on the PromQL expression "sum by (host) (rate(http_errors_total[5m])"
    Then the rule form shows the server's reason "parse error" at the PromQL expression
    When the admin corrects the expression to "sum by (host) (rate(http_errors_total[5m]))" and saves
    Then the api lists the rule "error-rate" of "acme" with the expression "sum by (host) (rate(http_errors_total[5m]))" and no metric
    And the rule "error-rate" is listed as "(sum by (host) (rate(http_errors_total[5m]))) > 1"

  Scenario: An admin changes, disables and deletes a channel without ever seeing its secret
    Given the tenant "acme" has the webhook channel "ops" with the secret "old-hmac-key"
    And the admin of "acme" is signed in
    When the admin changes the URL of the channel "ops" to "https://new.example.org/hook"
    Then the api lists the webhook channel "ops" of "acme" for "https://new.example.org/hook" with a secret
    And the secret of the channel "ops" of "acme" is "old-hmac-key" and the page never shows it
    When the admin disables the channel "ops"
    Then the api lists the channel "ops" of "acme" as disabled
    When the admin deletes the channel "ops"
    Then the api lists no channel "ops" of "acme"

  Scenario: A viewer sees no rule or channel controls
    Given the tenant "acme" has the alert rule "cpu-high"
    And the tenant "acme" has the webhook channel "ops" with the secret "viewer-never-sees"
    And the viewer of "acme" is signed in
    When the user opens the alerts page
    Then the rule "cpu-high" is listed without edit controls
    And the channel "ops" is listed without edit controls
    And no button offers to create a rule or a channel

  Scenario: A rule managed by Kubernetes cannot be edited in the dashboard
    Given the tenant "acme" has the alert rule "cpu-high"
    And the tenant "acme" has the rule "k8s-cpu" managed by Kubernetes
    And the admin of "acme" is signed in
    When the user opens the alerts page
    Then the rule "cpu-high" offers edit controls
    And the rule "k8s-cpu" says it is managed by Kubernetes and offers no edit controls
