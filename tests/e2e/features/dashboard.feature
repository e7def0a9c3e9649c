Feature: The web dashboard
  Admins and viewers sign in, see their tenant's hosts and charts update live, and admins manage
  API tokens and read the audit log. Nobody ever sees another tenant's data.

  Scenario: An admin signs in and sees the hosts of the tenant
    Given the tenant "acme" has host metrics for "web-1"
    When the admin of "acme" signs in
    Then the overview shows a host card for "web-1"
    And a screenshot of the dashboard is saved as "dashboard.png"

  Scenario: A wrong password is refused on the login page
    Given the tenant "acme" has an admin
    When someone signs in as the admin of "acme" with a wrong password
    Then the login page shows an error
    And the browser is still on the login page

  Scenario: A sample ingested over HTTP appears on a live chart without a reload
    Given the tenant "acme" has a sample of "e2e.temperature" for "web-1"
    And the admin of "acme" is signed in
    When the user explores "e2e.temperature" over the last hour
    And a sample of "e2e.temperature" for "web-1" is ingested over HTTP
    Then the chart plots one more point without a reload

  Scenario: The latency check measures ingest to browser
    Given the admin of "acme" is signed in
    When the user opens the latency check and runs it
    Then the latency check reports a p50 and a p99 for its probes

  Scenario: A viewer sees no admin actions
    Given the tenant "acme" has host metrics for "web-1"
    And the viewer of "acme" is signed in
    Then the overview shows a host card for "web-1"
    And the navigation offers no tokens page
    And opening "/tokens" lands on the overview
    And the navigation offers no audit page
    And opening "/audit" lands on the overview
    And the latency check offers no run button

  Scenario: An admin creates a token, sees it once, and revokes it
    Given the admin of "acme" is signed in
    When the admin creates a token named "ci-pipeline"
    Then the new token is shown once and accepts samples
    When the admin revokes the token "ci-pipeline"
    Then the revoked token is refused
    And the audit log shows the token's creation and revocation by the admin, without the token

  Scenario: Another tenant's data never appears
    Given the tenant "acme" has host metrics for "web-1"
    And the tenant "rival" has host metrics for "rival-1"
    And the tenant "rival" has a sample of "e2e.rival_secret" for "rival-1"
    And the admin of "acme" is signed in
    Then the overview shows a host card for "web-1"
    And no host card for "rival-1" appears
    And the tenant switcher offers only "acme"
    When the user explores "e2e.rival_secret" over the last hour
    Then no chart is drawn
    When the user runs the PromQL expression "{__name__=~"e2e.rival.*"}" over the last hour
    Then the PromQL query finds no series

  Scenario: Switching tenant is explicit and changes what is shown
    Given the tenant "acme" has host metrics for "web-1"
    And the tenant "beta" has host metrics for "beta-1"
    And the admin of "acme" is also a viewer of "beta"
    And the admin of "acme" is signed in
    When the user switches to the tenant "beta"
    Then the overview shows a host card for "beta-1"
    And no host card for "web-1" appears
    And the navigation offers no tokens page

  Scenario: Signing out ends the session
    Given the admin of "acme" is signed in
    When the user signs out
    Then the login page is shown
    And opening "/" lands on the login page

  Scenario: Exploring a metric by hand and by deep link
    Given the tenant "acme" has a sample of "e2e.load" for "web-1"
    And the tenant "acme" has a sample of "e2e.load" for "web-2"
    And the rollup job has run
    And the admin of "acme" is signed in
    When the user picks the metric "e2e.load" and the range "24h" on the explore page
    Then the chart shows 2 series
    And the address is a deep link to "e2e.load" over "24h"
    When the user opens the deep link "/explore?metric=e2e.load&range=24h&host=web-2"
    Then the chart shows 1 series

  Scenario: Repeated wrong passwords lock the login for a while
    Given the tenant "acme" has an admin
    When someone signs in as the admin of "acme" with a wrong password 5 times
    And the admin of "acme" signs in with the right password
    Then the login page says there were too many failed logins
    And the browser is still on the login page

  Scenario: The dark theme is chosen explicitly and kept
    Given the admin of "acme" is signed in
    When the user toggles the theme
    Then the page is dark
    And after a reload the page is still dark

  Scenario: A paused chart holds still and catches up on resume
    Given the tenant "acme" has a sample of "e2e.paused" for "web-1"
    And the admin of "acme" is signed in
    When the user explores "e2e.paused" over the last hour
    And the user pauses the live chart
    And a sample of "e2e.paused" for "web-1" is ingested over HTTP
    Then the chart still plots the same points
    When the user resumes the live chart
    Then the chart plots one more point without a reload

  Scenario: Exploring with a PromQL expression
    Given the tenant "acme" has a sample of "e2e_requests" for "web-1"
    And the tenant "acme" has a sample of "e2e_requests" for "web-2"
    And the admin of "acme" is signed in
    When the user runs the PromQL expression "e2e_requests" over the last hour
    Then the chart shows 2 series
    And the legend names the series 'e2e_requests{host="web-1"}'
    And the address is a deep link to the expression "e2e_requests"
    When the user runs the PromQL expression "sum(e2e_requests" over the last hour
    Then the PromQL error is "bad_data" and says "parse error"
    When the user runs the PromQL expression "sum by (host) (e2e_requests * 2)" over the last hour
    Then the chart shows 2 series
    And the legend names the series '{host="web-2"}'
    When the user switches the explore view back to the metric picker
    Then the chart shows 2 series
