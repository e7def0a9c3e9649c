import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import type { Channel } from '../api/types'
import { serverErrors } from './formErrors'
import { channelFieldOf, channelToForm, emptyChannelForm, formToChannel, type ChannelForm } from './channelForm'

const WEBHOOK: Channel = {
  id: 1, name: 'ops', kind: 'webhook', has_secret: true, enabled: true,
  config: { url: 'https://hooks.example/x', template: '{"t": "{{ $value }}"}', content_type: 'application/json', custom: 7,
    ca_pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' },
}
const EMAIL: Channel = {
  id: 2, name: 'mail', kind: 'email', has_secret: false, enabled: false,
  config: { host: 'smtp.example', port: 2525, sender: 'a@example.org', recipients: ['b@example.org', 'c@example.org'], tls: 'tls',
    ca_pem: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----' },
}

function form(overrides: Partial<ChannelForm>): ChannelForm {
  return { ...emptyChannelForm(), name: 'ops', url: 'https://hooks.example/x', ...overrides }
}

describe('channel form', () => {
  it('keeps an edited webhook\'s config, unknown keys included, and its secret', () => {
    const result = formToChannel(channelToForm(WEBHOOK), false)
    expect(result.channel).toEqual({ name: 'ops', kind: 'webhook', config: WEBHOOK.config, enabled: true })
    expect(result.channel).not.toHaveProperty('secret')
  })

  it('round-trips an email channel, recipients as a list', () => {
    const state = channelToForm(EMAIL)
    expect(state.recipients).toBe('b@example.org, c@example.org')
    expect(formToChannel(state, false).channel).toEqual({ name: 'mail', kind: 'email', config: EMAIL.config, enabled: false })
  })

  it('never holds the secret it was given, and says whether one is stored', () => {
    expect(channelToForm(WEBHOOK)).toMatchObject({ secret: '', hasSecret: true, removeSecret: false })
  })

  it('sends a new secret, a removal, or nothing', () => {
    expect(formToChannel(form({ secret: 's3cret' }), true).channel?.secret).toBe('s3cret')
    expect(formToChannel(form({ secret: '' }), true).channel).not.toHaveProperty('secret')
    expect(formToChannel(form({ removeSecret: true, hasSecret: true }), false).channel?.secret).toBe('')
    expect(formToChannel(form({ kind: 'slack', secret: 'ignored' }), true).channel).not.toHaveProperty('secret')
  })

  it('drops the keys of the previous kind when the kind changes', () => {
    const state = { ...channelToForm(WEBHOOK), kind: 'slack' as const }
    expect(formToChannel(state, false).channel?.config).toEqual({ url: 'https://hooks.example/x', custom: 7 })
  })

  it('splits recipients on commas, spaces and lines', () => {
    const result = formToChannel(form({ kind: 'email', host: 'h', sender: 'a@b', recipients: 'x@y, z@w\nq@r;s@t' }), true)
    expect(result.channel?.config).toEqual({ host: 'h', sender: 'a@b', recipients: ['x@y', 'z@w', 'q@r', 's@t'], tls: 'starttls' })
  })

  it.each<[Partial<ChannelForm>, string[]]>([
    [{ name: '' }, ['name']],
    [{ url: '' }, ['url']],
    [{ url: 'ftp://x' }, ['url']],
    [{ kind: 'slack', url: 'hooks.slack.com' }, ['url']],
    [{ kind: 'email' }, ['host', 'sender', 'recipients']],
    [{ kind: 'email', host: 'h', sender: 'a@b', recipients: 'x@y', port: '70000' }, ['port']],
    [{ kind: 'email', host: 'h', sender: 'a@b', recipients: 'x@y, nobody' }, ['recipients']],
    [{ secret: 'x'.repeat(256) }, ['secret']],
  ])('refuses %j', (overrides, fields) => {
    const result = formToChannel(form(overrides), true)
    expect(result.channel).toBeNull()
    expect(Object.keys(result.errors ?? {}).sort()).toEqual([...fields].sort())
  })
})

describe('server reasons for the channel form', () => {
  it.each<[string | null, string, string | null]>([
    [null, 'email channel config needs host, recipients', 'host'],
    [null, 'url must start with http:// or https://', 'url'],
    [null, "a channel named 'ops' exists already", 'name'],
    ['name', 'String should have at most 100 characters', 'name'],
    ['config.port', 'bad', 'port'],
    ['config.url', '127.0.0.1 is an internal address (loopback)', 'url'],
    ['config.host', 'localhost is an internal address (loopback)', 'host'],
    [null, 'ca_pem holds no valid PEM certificate', 'caPem'],
    [null, 'cert_bundle (a file path on the worker) is no longer accepted: give the CA certificates as PEM text in ca_pem', 'caPem'],
    [null, 'something else', null],
  ])('puts %s / %j on %s', (path, message, field) => expect(channelFieldOf(path, message)).toBe(field))

  it('strips pydantic\'s prefix from a model validator\'s reason', () => {
    const caught = new ApiError(422, 'webhook channel config needs url', null, [{ field: null, message: 'webhook channel config needs url' }])
    expect(serverErrors(caught, channelFieldOf)).toEqual({ messages: ['webhook channel config needs url'], fields: { url: 'webhook channel config needs url' } })
  })
})
