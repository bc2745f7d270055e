/**
 * The emulated Chatwoot's records and how Chatwoot shows them (test side only): the webhook bodies in Chatwoot's
 * own shapes (Message#webhook_data, Conversation#webhook_data = Conversations::EventDataPresenter#push_data, User
 * and Contact #webhook_data / #push_event_data, Attachment#push_event_data) and the API's JSON (the jbuilder views
 * of the application API). test/fixtures/chatwoot/README.md says where each shape comes from.
 */

export interface EmulatedUser {
  id: number;
  name: string;
  email: string;
}

export interface EmulatedTeam {
  id: number;
  name: string;
}

export interface EmulatedContact {
  id: number;
  name: string | null;
  email: string | null;
  phone_number: string | null;
  identifier: string | null;
  custom_attributes: Record<string, unknown>;
  created_at: number;
}

export interface EmulatedAttachment {
  id: number;
  name: string;
  mimeType: string;
  fileType: 'image' | 'audio' | 'video' | 'file';
  extension: string | null;
  dataUrl: string;
  data: Buffer;
}

export interface EmulatedMessage {
  id: number;
  content: string | null;
  message_type: 'incoming' | 'outgoing' | 'activity';
  private: boolean;
  created_at: Date;
  /** A user (agent, or the bridge's API user) for outgoing messages; the contact for incoming ones. */
  sender: { type: 'user'; user: EmulatedUser } | { type: 'contact'; contact: EmulatedContact };
  attachments: EmulatedAttachment[];
}

export interface EmulatedConversation {
  /** The display id: what the API's routes and the webhooks call `id`. */
  id: number;
  inboxId: number;
  contact: EmulatedContact;
  sourceId: string;
  status: 'open' | 'resolved' | 'pending';
  assignee: EmulatedUser | null;
  team: EmulatedTeam | null;
  custom_attributes: Record<string, unknown>;
  created_at: number;
  updated_at: number;
  messages: EmulatedMessage[];
  /** `contact_last_seen_at` (Unix seconds), set by the public API's `update_last_seen`. */
  contactLastSeenAt?: number;
  /** The contact typing, as the dashboard shows it (the public API's `toggle_typing`). */
  contactTyping?: boolean;
  /** Every `toggle_typing` received for the conversation, in order. */
  contactTypingLog: Array<'on' | 'off'>;
}

export interface Account {
  id: number;
  name: string;
}

export interface Inbox {
  id: number;
  name: string;
}

const MESSAGE_TYPES = ['incoming', 'outgoing', 'activity', 'template'];

/** Contact#webhook_data. */
export function contactWebhookData(contact: EmulatedContact, account: Account): Record<string, unknown> {
  return {
    account,
    additional_attributes: {},
    avatar: '',
    custom_attributes: contact.custom_attributes,
    email: contact.email,
    id: contact.id,
    identifier: contact.identifier,
    name: contact.name,
    phone_number: contact.phone_number,
    thumbnail: '',
    blocked: false,
    type: 'contact',
  };
}

/** Contact#push_event_data (a conversation's `meta.sender`). */
export function contactPushData(contact: EmulatedContact): Record<string, unknown> {
  return {
    additional_attributes: {},
    custom_attributes: contact.custom_attributes,
    email: contact.email,
    id: contact.id,
    identifier: contact.identifier,
    name: contact.name,
    phone_number: contact.phone_number,
    thumbnail: '',
    blocked: false,
    type: 'contact',
  };
}

/** User#webhook_data (a message's `sender`). */
export function userWebhookData(user: EmulatedUser): Record<string, unknown> {
  return { id: user.id, name: user.name, email: user.email, type: 'user' };
}

/** User#push_event_data (a conversation's `meta.assignee`, an API message's `sender`). */
export function userPushData(user: EmulatedUser): Record<string, unknown> {
  return {
    id: user.id,
    name: user.name,
    available_name: user.name,
    avatar_url: '',
    type: 'user',
    availability_status: 'online',
    thumbnail: '',
  };
}

/** Attachment#push_event_data. */
export function attachmentPushData(a: EmulatedAttachment, message: EmulatedMessage, account: Account) {
  return {
    id: a.id,
    message_id: message.id,
    file_type: a.fileType,
    account_id: account.id,
    extension: a.extension,
    data_url: a.dataUrl,
    thumb_url: a.fileType === 'image' ? a.dataUrl : '',
    file_size: a.data.length,
    width: null,
    height: null,
  };
}

/**
 * `Conversations::UpdateMessageStatusJob`: after the contact's `update_last_seen`, the agents' messages created up
 * to `contact_last_seen_at` are `read`.
 */
export function readByContact(message: EmulatedMessage, conversation: EmulatedConversation): boolean {
  const seen = conversation.contactLastSeenAt;
  return (
    seen !== undefined &&
    message.message_type === 'outgoing' &&
    !message.private &&
    Math.floor(message.created_at.getTime() / 1000) <= seen
  );
}

/** Message#push_event_data (the API's message JSON and a conversation's `messages`): enum values, Unix times. */
export function messagePushData(
  message: EmulatedMessage,
  conversation: EmulatedConversation,
  account: Account,
): Record<string, unknown> {
  return {
    id: message.id,
    content: message.content,
    account_id: account.id,
    inbox_id: conversation.inboxId,
    conversation_id: conversation.id,
    message_type: MESSAGE_TYPES.indexOf(message.message_type),
    created_at: Math.floor(message.created_at.getTime() / 1000),
    updated_at: message.created_at.toISOString(),
    private: message.private,
    status: readByContact(message, conversation) ? 'read' : 'sent',
    source_id: null,
    content_type: 'text',
    content_attributes: {},
    sender_type: message.sender.type === 'user' ? 'User' : 'Contact',
    sender_id: message.sender.type === 'user' ? message.sender.user.id : message.sender.contact.id,
    external_source_ids: {},
    additional_attributes: {},
    processed_message_content: message.content,
    sentiment: {},
    ...(message.attachments.length
      ? { attachments: message.attachments.map((a) => attachmentPushData(a, message, account)) }
      : {}),
    sender:
      message.sender.type === 'user'
        ? userPushData(message.sender.user)
        : contactPushData(message.sender.contact),
  };
}

/** Conversation#webhook_data (Conversations::EventDataPresenter#push_data). */
export function conversationWebhookData(
  conversation: EmulatedConversation,
  account: Account,
): Record<string, unknown> {
  const chat = conversation.messages.filter((m) => m.message_type !== 'activity' && !m.private);
  const last = chat.at(-1);
  return {
    additional_attributes: {},
    can_reply: true,
    channel: 'Channel::Api',
    contact_inbox: {
      id: conversation.contact.id + 5000,
      contact_id: conversation.contact.id,
      inbox_id: conversation.inboxId,
      source_id: conversation.sourceId,
      created_at: new Date(conversation.created_at * 1000).toISOString(),
      updated_at: new Date(conversation.created_at * 1000).toISOString(),
      hmac_verified: false,
      pubsub_token: `pubsub${conversation.contact.id}`,
    },
    id: conversation.id,
    inbox_id: conversation.inboxId,
    messages: last ? [messagePushData(last, conversation, account)] : [],
    labels: [],
    meta: {
      sender: contactPushData(conversation.contact),
      assignee: conversation.assignee ? userPushData(conversation.assignee) : null,
      team: conversation.team ? { id: conversation.team.id, name: conversation.team.name } : null,
      hmac_verified: false,
    },
    status: conversation.status,
    custom_attributes: conversation.custom_attributes,
    snoozed_until: null,
    unread_count: 0,
    first_reply_created_at: null,
    priority: null,
    waiting_since: 0,
    agent_last_seen_at: 0,
    contact_last_seen_at: conversation.contactLastSeenAt ?? 0,
    last_activity_at: conversation.created_at,
    timestamp: conversation.created_at,
    created_at: conversation.created_at,
    updated_at: conversation.updated_at,
  };
}

/** Message#webhook_data, as `message_created` sends it. */
export function messageWebhookData(
  message: EmulatedMessage,
  conversation: EmulatedConversation,
  account: Account,
  inbox: Inbox,
): Record<string, unknown> {
  return {
    account,
    additional_attributes: {},
    content_attributes: {},
    content_type: 'text',
    content: message.content,
    conversation: conversationWebhookData(conversation, account),
    created_at: message.created_at.toISOString(),
    id: message.id,
    inbox,
    message_type: message.message_type,
    private: message.private,
    sender:
      message.sender.type === 'user'
        ? userWebhookData(message.sender.user)
        : contactWebhookData(message.sender.contact, account),
    source_id: null,
    ...(message.attachments.length
      ? { attachments: message.attachments.map((a) => attachmentPushData(a, message, account)) }
      : {}),
    event: 'message_created',
  };
}

/** `changed_attributes` as WebhookListener#extract_changed_attributes makes it. */
export function changedAttributes(
  changes: Record<string, [unknown, unknown]>,
): Array<Record<string, unknown>> {
  return Object.entries(changes).map(([key, [previous, current]]) => ({
    [key]: { previous_value: previous, current_value: current },
  }));
}

/** The API's contact JSON (api/v1/models/_contact.json.jbuilder). */
export function contactJson(contact: EmulatedContact): Record<string, unknown> {
  return {
    additional_attributes: {},
    availability_status: 'offline',
    email: contact.email,
    id: contact.id,
    name: contact.name,
    phone_number: contact.phone_number,
    blocked: false,
    identifier: contact.identifier,
    thumbnail: '',
    custom_attributes: contact.custom_attributes,
    last_activity_at: contact.created_at,
    created_at: contact.created_at,
  };
}
