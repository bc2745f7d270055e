/** The channel of a customer identity: the map lives in the core (the ticket subject template uses it too). */
export { type Channel, channelOf } from '../core/channels';
