import type { CustomerTexts } from '../core/texts';

/** English. */
export const en: CustomerTexts = {
  waiting: 'You are in the queue for an agent. We will be with you shortly.',
  queuePosition: 'You are number {position} in the queue.',
  assigned: '{agent} joined the conversation.',
  transferred: 'Transferring you to the {team} team.',
  unnamedAgent: 'An agent',
  noAgent: 'Our agents are busy right now. Your message is recorded and we will answer as soon as we can.',
  outOfHours: 'Our human support is closed right now.',
  inactivity: '',
  closing: 'Your conversation with our team has ended. Thank you for reaching out!',
  fileNotDelivered: '[The agent sent a file ({file}) that could not be delivered. They have been told.]',
  surveyQuestion: 'How would you rate the service you received?',
  surveyOptions: '1 - Very poor|2 - Poor|3 - Fair|4 - Good|5 - Excellent',
  surveyHint: 'Reply with a number from 1 to 5.',
  surveyInvalid: 'Sorry, I did not get your rating. Please pick an option from 1 to 5.',
  surveyThanks: 'Thank you for your rating!',
};
