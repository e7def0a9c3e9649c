// The notification-channel form: state <-> the api's ChannelIn (api/microdash_api/routes/alert_channels.py).
// The secret is write-only: the form starts empty and an empty input keeps what is stored.
import type { Channel, ChannelIn, ChannelKind } from '../api/types'
import type { FieldMessages } from './formErrors'

export const CHANNEL_KINDS: ChannelKind[] = ['webhook', 'slack', 'email']
export const TLS_MODES = ['starttls', 'tls', 'none'] as const
export type TlsMode = (typeof TLS_MODES)[number]
// Config keys each kind reads (workers/microdash_workers/senders.py); other keys are kept untouched.
const CONFIG_KEYS: Record<ChannelKind, string[]> = {
  webhook: ['url', 'template', 'content_type', 'ca_pem'],
  slack: ['url'],
  email: ['host', 'port', 'sender', 'recipients', 'username', 'tls', 'ca_pem'],
}
const KNOWN_KEYS = new Set(Object.values(CONFIG_KEYS).flat())
export const SECRET_LABEL: Record<ChannelKind, string | null> = {
  webhook: 'Signing secret (HMAC key)',
  slack: null,
  email: 'SMTP password',
}

export interface ChannelForm {
  name: string
  kind: ChannelKind
  enabled: boolean
  url: string
  template: string
  contentType: string
  host: string
  port: string
  sender: string
  /** comma, space or line separated */
  recipients: string
  username: string
  tls: TlsMode
  /** PEM text of the CA a private receiver's certificate is checked with (never a file path) */
  caPem: string
  /** a new secret; empty keeps the stored one (or sets none on a new channel) */
  secret: string
  removeSecret: boolean
  hasSecret: boolean
  /** config keys the form has no input for, sent back as they came */
  extra: Record<string, unknown>
}

export type ChannelField = 'name' | 'kind' | 'url' | 'template' | 'contentType' | 'host' | 'port' | 'sender'
  | 'recipients' | 'username' | 'tls' | 'caPem' | 'secret'
export type ChannelErrors = FieldMessages<ChannelField>
export type ChannelCheck = { channel: ChannelIn; errors: null } | { channel: null; errors: ChannelErrors }

export function emptyChannelForm(): ChannelForm {
  return {
    name: '', kind: 'webhook', enabled: true, url: '', template: '', contentType: '', host: '', port: '',
    sender: '', recipients: '', username: '', tls: 'starttls', caPem: '', secret: '', removeSecret: false,
    hasSecret: false, extra: {},
  }
}

const text = (value: unknown): string => (value === undefined || value === null ? '' : String(value))

export function channelToForm(channel: Channel): ChannelForm {
  const config = channel.config
  const recipients = config.recipients
  const tls = text(config.tls) as TlsMode
  return {
    ...emptyChannelForm(),
    name: channel.name,
    kind: CHANNEL_KINDS.includes(channel.kind as ChannelKind) ? (channel.kind as ChannelKind) : 'webhook',
    enabled: channel.enabled,
    url: text(config.url),
    template: text(config.template),
    contentType: text(config.content_type),
    host: text(config.host),
    port: text(config.port),
    sender: text(config.sender),
    recipients: Array.isArray(recipients) ? recipients.join(', ') : text(recipients),
    username: text(config.username),
    tls: TLS_MODES.includes(tls) ? tls : 'starttls',
    caPem: text(config.ca_pem),
    hasSecret: channel.has_secret,
    extra: Object.fromEntries(Object.entries(config).filter(([key]) => !KNOWN_KEYS.has(key))),
  }
}

export function splitRecipients(value: string): string[] {
  return value.split(/[\s,;]+/).filter(Boolean)
}

function configOf(form: ChannelForm, errors: ChannelErrors): Record<string, unknown> {
  const config: Record<string, unknown> = { ...form.extra }
  const put = (key: string, value: string) => {
    if (value.trim()) config[key] = value.trim()
  }
  if (form.kind === 'webhook' || form.kind === 'slack') {
    const url = form.url.trim()
    if (!url) errors.url = 'a URL is required'
    else if (!/^https?:\/\/\S+$/.test(url)) errors.url = 'the URL must start with http:// or https://'
    put('url', url)
  }
  if (form.kind === 'webhook') {
    if (form.template.trim()) config.template = form.template
    put('content_type', form.contentType)
    put('ca_pem', form.caPem)
  }
  if (form.kind === 'email') {
    if (!form.host.trim()) errors.host = 'the SMTP host is required'
    put('host', form.host)
    const port = form.port.trim()
    if (port && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) errors.port = 'a port from 1 to 65535'
    else if (port) config.port = Number(port)
    if (!/^\S+@\S+$/.test(form.sender.trim())) errors.sender = 'the sender address is required'
    put('sender', form.sender)
    const recipients = splitRecipients(form.recipients)
    const bad = recipients.find((address) => !/^\S+@\S+$/.test(address))
    if (!recipients.length) errors.recipients = 'at least one recipient'
    else if (bad) errors.recipients = `${bad} is not an email address`
    config.recipients = recipients
    put('username', form.username)
    config.tls = form.tls
    put('ca_pem', form.caPem)
  }
  return config
}

/** `creating`: a new channel; an empty secret then means none rather than "keep". */
export function formToChannel(form: ChannelForm, creating: boolean): ChannelCheck {
  const errors: ChannelErrors = {}
  const name = form.name.trim()
  if (!name || name.length > 100) errors.name = 'a name of 1 to 100 characters'
  const config = configOf(form, errors)
  if (form.secret.length > 255) errors.secret = 'at most 255 characters'
  if (Object.keys(errors).length) return { channel: null, errors }
  const channel: ChannelIn = { name, kind: form.kind, config, enabled: form.enabled }
  if (form.removeSecret && !creating) channel.secret = ''
  else if (form.secret && SECRET_LABEL[form.kind]) channel.secret = form.secret
  return { channel, errors: null }
}

const CONFIG_FIELDS: Record<string, ChannelField> = {
  url: 'url', template: 'template', content_type: 'contentType', host: 'host', port: 'port', sender: 'sender',
  recipients: 'recipients', username: 'username', tls: 'tls', ca_pem: 'caPem',
}

/** The form field a server reason is about (the model validator answers with messages only). */
export function channelFieldOf(path: string | null, message: string): ChannelField | null {
  const [head, key] = (path ?? '').split('.')
  if (head === 'name' || head === 'kind' || head === 'secret') return head
  if (head === 'config' && key && CONFIG_FIELDS[key]) return CONFIG_FIELDS[key]
  if (/^a channel named /.test(message)) return 'name'
  if (/^url must/.test(message)) return 'url'
  if (/^tls must/.test(message)) return 'tls'
  if (/^(ca_pem|cert_bundle)\b/.test(message)) return 'caPem'
  const needs = /channel config needs (\w+)/.exec(message)
  return needs && CONFIG_FIELDS[needs[1]] ? CONFIG_FIELDS[needs[1]] : null
}
