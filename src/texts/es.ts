import type { CustomerTexts } from '../core/texts';

/** Español. */
export const es: CustomerTexts = {
  waiting: 'Estás en la fila para hablar con un agente. Te atenderemos en breve.',
  queuePosition: 'Usted es el número {position} en la fila.',
  assigned: '{agent} se unió a la conversación.',
  transferred: 'Te estamos transfiriendo al equipo {team}.',
  unnamedAgent: 'Un agente',
  noAgent:
    'Nuestros agentes están ocupados en este momento. Tu mensaje quedó registrado y responderemos lo antes posible.',
  outOfHours: 'Nuestra atención humana está fuera de horario en este momento.',
  inactivity: '',
  closing: 'Tu atención ha finalizado. ¡Gracias por contactarnos!',
  fileNotDelivered: '[El agente envió un archivo ({file}) que no se pudo entregar. Ya fue avisado.]',
  surveyQuestion: '¿Cómo calificas la atención que recibiste?',
  surveyOptions: '1 - Pésima|2 - Mala|3 - Regular|4 - Buena|5 - Excelente',
  surveyHint: 'Responde con un número del 1 al 5.',
  surveyInvalid: 'No entendí tu calificación. Elige una opción del 1 al 5, por favor.',
  surveyThanks: '¡Gracias por tu calificación!',
};
