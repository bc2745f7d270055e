/** The channel of a customer identity: the map lives in the BLiP edge, which also names each customer's channel for the core. */
export { type Channel, channelOf } from '../blip/channels';
