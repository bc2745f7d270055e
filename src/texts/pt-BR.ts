import type { CustomerTexts } from '../core/texts';

/** Português (Brasil): the default locale. */
export const ptBR: CustomerTexts = {
  waiting: 'Você está na fila para falar com um atendente. Já vamos te atender.',
  queuePosition: 'Você é o {position}º da fila.',
  assigned: '{agent} entrou na conversa.',
  transferred: 'Transferindo você para o time {team}.',
  unnamedAgent: 'Um atendente',
  noAgent:
    'Nossos atendentes estão ocupados agora. Sua mensagem está registrada e vamos responder assim que possível.',
  outOfHours: 'Nosso atendimento humano está fora do horário agora.',
  inactivity: '',
  closing: 'Seu atendimento foi encerrado. Obrigado pelo contato!',
  fileNotDelivered: '[O atendente enviou um arquivo ({file}) que não pôde ser entregue. Ele já foi avisado.]',
  surveyQuestion: 'Como você avalia o atendimento que recebeu?',
  surveyOptions: '1 - Péssimo|2 - Ruim|3 - Regular|4 - Bom|5 - Excelente',
  surveyHint: 'Responda com um número de 1 a 5.',
  surveyInvalid: 'Não entendi sua nota. Escolha uma opção de 1 a 5, por favor.',
  surveyThanks: 'Obrigado pela sua avaliação!',
};
