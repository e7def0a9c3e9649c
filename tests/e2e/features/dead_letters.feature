Feature: A tenant reads what its devices sent that could never be stored
  A message the MQTT bridge refuses never reaches a chart. The dead letters page lists the
  tenant's own refusals, newest first, with the reason and the data as the api keeps it, so a
  faulty sender is found without asking an operator. Another tenant's never appear.

  Scenario: A viewer finds a device's refused messages and refreshes to see a new one
    Given the tenant "plant" has MQTT devices
    And the tenant "rival" has MQTT devices
    And the device "rival-1" of "rival" published '{rival secret'
    And the device "dev-7" of "plant" published '{not json'
    When the viewer of "plant" signs in
    And the user opens the dead letters page
    Then the page shows 1 dead letter
    And the newest dead letter came over MQTT from "dev-7" with the data '{not json' because of "malformed JSON"
    And the page shows nothing of "rival-1"
    When the device "dev-8" of "plant" published '{"metric": "bad name", "value": 1}'
    And the user refreshes the dead letters page
    Then the page shows 2 dead letters
    And the newest dead letter came over MQTT from "dev-8" with the data '{"metric": "bad name", "value": 1}' because of "metric"
    When the user asks for at most 20 dead letters
    Then the address asks the api for 20 and the page still shows 2 dead letters

  Scenario: A tenant with no dead letters is told so
    Given the admin of "acme" is signed in
    When the user opens the dead letters page
    Then the page says there are no dead letters
