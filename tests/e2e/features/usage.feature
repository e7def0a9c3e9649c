Feature: A tenant sees its limits and usage on the overview
  Tenants with a series limit see how many of their series are stored, so a refused ingest
  ("series limit of N reached") never comes as a surprise.

  Scenario: The overview shows the series stored against the tenant's limit
    Given the tenant "acme" has a series limit of 50 and 3 series
    When the admin of "acme" signs in
    Then the overview shows 3 of 50 series
    And the overview shows the ingest limit "100k samples/s"
